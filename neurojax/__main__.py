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
        from ._demo import run_demo

        run_demo(out_dir=args.out, fast=args.fast)
    return 0


if __name__ == "__main__":
    sys.exit(main())
