"""Command line: `python -m neurojax demo [--out DIR] [--fast]`."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m neurojax", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser(
        "demo",
        help="simulate HH and AdEx, fit HH conductances to a noisy trace, write PNG figures",
    )
    demo.add_argument("--out", default="neurojax_demo", help="folder for the figures")
    demo.add_argument("--fast", action="store_true", help="fewer fitting steps (smoke test)")
    args = parser.parse_args(argv)
    if args.command == "demo":
        _check_out(demo, args.out)
        from ._demo import run_demo

        run_demo(out_dir=args.out, fast=args.fast)
    return 0


def _check_out(parser: argparse.ArgumentParser, out: str) -> None:
    """`--out` must be a folder that exists or can be made, and is writable: checked
    before anything runs (a file or an unwritable path ended the demo in a traceback)."""
    import os
    import pathlib

    path = pathlib.Path(out)
    if path.exists() and not path.is_dir():
        parser.error(f"--out {out}: exists and is not a folder; give a folder for the figures.")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        parser.error(f"--out {out}: cannot create the folder ({e.strerror}).")
    if not os.access(path, os.W_OK):
        parser.error(f"--out {out}: the folder is not writable.")


if __name__ == "__main__":
    sys.exit(main())
