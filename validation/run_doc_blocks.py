"""Run every Python code block of the README and of docs/*.md, as a reader would copy them.

    python validation/run_doc_blocks.py                 # README.md and docs/*.md
    python validation/run_doc_blocks.py docs/nmodl.md   # some files
    python validation/run_doc_blocks.py --list          # the blocks, what each needs, no run
    python validation/run_doc_blocks.py docs/fitting.md --sections "Spike trains"

The blocks of one `#`/`##` section of a file run in order in one namespace (a block may
use the imports and variables of the blocks before it in its section, never those of
another section or file), in a fresh temporary working directory, with matplotlib's
non-interactive backend, and `jax_enable_x64` restored after each section (a block may
turn it on, as docs/fitting.md's first does). Each block prints what it prints, and the
report gives its CPU time (`time.process_time`, compilation included).

A block that is a fragment of a larger program (it uses a `morph` or a recording the text
only describes) or a sketch (a signature) carries a directive in an HTML comment, which
Markdown does not render:

- `<!-- doc-blocks: skip: WHY -->` right before the fence: not run; listed with WHY;
- `<!-- doc-blocks: setup` ... `-->` right before the fence: the code between runs first,
  in the block's namespace (what the text says exists: a morphology, a recording;
  `_repo` is the repository's root, for the `.mod` texts of validation/);
- `<!-- doc-blocks: check` ... `-->` right after the closing fence: the code runs after
  the block, in its namespace: asserts that what the text says the block prints or
  returns (its comments) is what it does (`_printed` holds what the block printed);
- `<!-- doc-blocks: needs MODULE ... -->` right before the fence (may follow a setup):
  the block is skipped, and says so, where a module it needs (`neuron`, `sympy`) is not
  installed.

Only blank lines may separate a directive from its fence. A block that raises, or a check
that fails, is a failure: the exit status is 1 and the report names file and line.
`tests/test_doc_blocks.py` runs the README through this module (the fast tier: the
front-page example and the user-written model; the slow tier: the rest) and docs/*.md
in the slow tier.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import importlib.util
import io
import os
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_FILES = (
    "README.md",
    *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "docs").glob("*.md")),
)

_FENCE = re.compile(r"^(\s*)```(\w*)\s*$")
_DIRECTIVE = re.compile(r"^\s*<!--\s*doc-blocks:\s*(\w+)(.*)$")


@dataclasses.dataclass
class Block:
    """One fenced Python block: where it is, its code, and its directives."""

    path: Path
    line: int  # 1-based line of the block's first code line
    section: str
    code: str
    setup: str = ""
    setup_line: int = 0
    check: str = ""
    check_line: int = 0
    skip: str | None = None
    needs: tuple[str, ...] = ()

    @property
    def where(self) -> str:
        path = self.path.relative_to(ROOT) if self.path.is_relative_to(ROOT) else self.path
        return f"{path}:{self.line}"


def _directive(lines: list[str], i: int) -> tuple[str, str, str, int, int]:
    """`(kind, argument, body, first body line (1-based), index after the comment)`."""
    m = _DIRECTIVE.match(lines[i])
    kind, rest = m.group(1), m.group(2)
    if rest.rstrip().endswith("-->"):  # one-line directive
        return kind, rest.rstrip()[:-3].strip(" :"), "", i + 1, i + 1
    body, j = [], i + 1
    while j < len(lines) and lines[j].strip() != "-->":
        body.append(lines[j])
        j += 1
    if j == len(lines):
        raise ValueError(f"unterminated doc-blocks directive at line {i + 1}")
    return kind, rest.strip(" :"), "\n".join(body), i + 2, j + 1


def parse(path: str | Path) -> list[Block]:
    """Every ```python block of a Markdown file, with its section and directives."""
    path = Path(path)
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    section, pending, last_closed = "(top)", {}, None
    i = 0
    while i < len(lines):
        line = lines[i]
        if _DIRECTIVE.match(line):
            kind, arg, body, body_line, i = _directive(lines, i)
            if kind == "check":
                if last_closed is None:
                    raise ValueError(
                        f"{path}:{body_line - 1}: a check directive must follow a block"
                    )
                last_closed.check, last_closed.check_line = body, body_line
            elif kind == "setup":
                pending["setup"], pending["setup_line"] = body, body_line
            elif kind == "skip":
                pending["skip"] = arg or "(no reason given)"
            elif kind == "needs":
                pending["needs"] = tuple(arg.split())
            else:
                raise ValueError(f"{path}:{i}: unknown doc-blocks directive {kind!r}")
            continue
        fence = _FENCE.match(line)
        if fence:
            indent, lang = fence.group(1), fence.group(2)
            j = i + 1
            while j < len(lines) and not re.match(rf"^{indent}```\s*$", lines[j]):
                j += 1
            if lang == "python":
                code = "\n".join(
                    s[len(indent) :] if s.startswith(indent) else s for s in lines[i + 1 : j]
                )
                blocks.append(Block(path, i + 2, section, code, **pending))
                last_closed = blocks[-1]
            elif pending:
                raise ValueError(
                    f"{path}:{i + 1}: a doc-blocks directive before a {lang or 'plain'} block"
                )
            pending = {}
            i = j + 1
            continue
        if line.strip():
            if pending:
                raise ValueError(
                    f"{path}:{i + 1}: a doc-blocks directive not followed by a ```python block"
                )
            last_closed = None
            if re.match(r"^#{1,2} ", line):
                section = line.lstrip("#").strip()
        i += 1
    return blocks


def sections(blocks: list[Block]) -> list[tuple[str, list[Block]]]:
    """The blocks grouped by (file, section), in order."""
    out: list[tuple[str, list[Block]]] = []
    for b in blocks:
        key = f"{b.path.name} {b.section}"
        if out and out[-1][0] == key:
            out[-1][1].append(b)
        else:
            out.append((key, [b]))
    return out


def _missing(block: Block) -> list[str]:
    return [m for m in block.needs if importlib.util.find_spec(m) is None]


def _exec(code: str, path: Path, line: int, namespace: dict) -> None:
    # compiled under the file's name and line, so a traceback points at the Markdown
    exec(compile("\n" * (line - 1) + code, str(path), "exec"), namespace)


def run_section(blocks: list[Block], *, echo: bool = True) -> list[dict]:
    """Run one section's blocks in one namespace; a dict per block (status, CPU s, output).

    Raises nothing: a failing block is reported (`status="fail"`, the traceback), and the
    section's later blocks are not run (they may depend on it)."""
    import traceback

    import jax
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x64 = jax.config.jax_enable_x64
    namespace: dict = {"__name__": "__doc_block__", "_repo": ROOT}
    results, failed = [], False
    cwd = os.getcwd()
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)
        try:
            for b in blocks:
                row = {
                    "where": b.where,
                    "section": b.section,
                    "status": "ok",
                    "cpu_s": 0.0,
                    "output": "",
                }
                results.append(row)
                if b.skip is not None:
                    row.update(status="skip", output=b.skip)
                    continue
                if missing := _missing(b):
                    row.update(status="skip", output=f"needs {', '.join(missing)} (not installed)")
                    continue
                if failed:
                    row.update(status="not run", output="an earlier block of its section failed")
                    continue
                out = io.StringIO()
                t0 = time.process_time()
                try:
                    with contextlib.redirect_stdout(out):
                        if b.setup:
                            _exec(b.setup, b.path, b.setup_line, namespace)
                        _exec(b.code, b.path, b.line, namespace)
                        if b.check:
                            namespace["_printed"] = out.getvalue()
                            _exec(b.check, b.path, b.check_line, namespace)
                except Exception:
                    failed = True
                    row.update(status="fail", traceback=traceback.format_exc())
                row["cpu_s"] = time.process_time() - t0
                row["output"] = out.getvalue()
                if echo:
                    print(_line(row), flush=True)
        finally:
            os.chdir(cwd)
            plt.close("all")
            jax.config.update("jax_enable_x64", x64)
    return results


def _line(row: dict) -> str:
    text = f"{row['status']:>7}  {row['cpu_s']:6.1f} CPU-s  {row['where']}  ({row['section']})"
    output = row.get("output", "").rstrip()
    if output:
        text += "\n" + "\n".join("         | " + s for s in output.splitlines())
    if "traceback" in row:
        text += "\n" + "\n".join("         ! " + s for s in row["traceback"].rstrip().splitlines())
    return text


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "files",
        nargs="*",
        default=list(DEFAULT_FILES),
        help="Markdown files (default: README.md docs/*.md)",
    )
    ap.add_argument(
        "--list", action="store_true", help="list the blocks and their directives; run nothing"
    )
    ap.add_argument(
        "--sections", nargs="+", metavar="TEXT", help="only the sections whose title contains one"
    )
    args = ap.parse_args(argv)
    blocks = [b for f in args.files for b in parse(ROOT / f if not Path(f).is_absolute() else f)]
    if args.sections:
        blocks = [b for b in blocks if any(t in b.section for t in args.sections)]
    if args.list:
        for b in blocks:
            tags = [t for t, on in (("setup", b.setup), ("check", b.check)) if on]
            tags += [f"needs {' '.join(b.needs)}"] if b.needs else []
            tags += [f"skip: {b.skip}"] if b.skip is not None else []
            print(f"{b.where}  ({b.section})  {'; '.join(tags)}")
        return 0
    rows = []
    t0 = time.perf_counter()
    for _, group in sections(blocks):
        for row in run_section(group, echo=False):
            print(_line(row), flush=True)
            rows.append(row)
    counts = {s: sum(r["status"] == s for r in rows) for s in ("ok", "fail", "skip", "not run")}
    cpu = sum(r["cpu_s"] for r in rows)
    print(
        f"\n{len(rows)} blocks: {counts['ok']} ok, {counts['fail']} failed, "
        f"{counts['skip']} skipped, {counts['not run']} not run after a failure; {cpu:.0f} CPU-s, "
        f"{time.perf_counter() - t0:.0f} s wall"
    )
    return 1 if counts["fail"] or counts["not run"] else 0


if __name__ == "__main__":
    sys.exit(main())
