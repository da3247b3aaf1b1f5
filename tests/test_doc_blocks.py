"""Every Python block of the README and of docs/*.md runs as written, on the installed
package, through `validation/run_doc_blocks.py` (the same check from the command line).

The blocks of one `#`/`##` section of a file run in order in one namespace, in a fresh
working directory, with matplotlib's non-interactive backend. A fragment's hidden
`<!-- doc-blocks: setup -->` supplies what its text says exists (a morphology, a
recording); a `<!-- doc-blocks: check -->` after a block asserts what its comments say it
prints or returns (run_doc_blocks.py's docstring)."""

import importlib.util
import sys
from pathlib import Path

import pytest

_PATH = Path(__file__).resolve().parent.parent / "validation" / "run_doc_blocks.py"
_spec = importlib.util.spec_from_file_location("run_doc_blocks", _PATH)
doc_blocks = importlib.util.module_from_spec(_spec)
sys.modules["run_doc_blocks"] = doc_blocks  # dataclasses look their module up
_spec.loader.exec_module(doc_blocks)

SECTIONS = [
    s
    for f in doc_blocks.DEFAULT_FILES
    for s in doc_blocks.sections(doc_blocks.parse(doc_blocks.ROOT / f))
]


def test_the_readme_has_code_in_the_sections_it_documents():
    titles = [t for t, _ in SECTIONS if t.startswith("README.md ")]
    for expected in ("Example", "Your own model", "Cable", "Synapses", "Fitting", "Dynamics"):
        assert any(t.startswith(f"README.md {expected}") for t in titles), (expected, titles)


def test_a_block_that_raises_or_fails_its_check_is_reported(tmp_path):
    """The runner reports, with the Markdown's file and line, a block that raises and a
    check that fails, and does not run a section's later blocks after a failure."""
    md = tmp_path / "doc.md"
    md.write_text(
        "# A\n\n```python\nx = 1\nprint(x)\n```\n<!-- doc-blocks: check\n"
        'assert _printed == "2\\n"\n-->\n\n```python\ny = x\n```\n\n'
        "# B\n\n<!-- doc-blocks: skip: a sketch -->\n```python\nraise SystemExit\n```\n\n"
        "```python\n1 / 0\n```\n",
        encoding="utf-8",
    )
    blocks = doc_blocks.parse(md)
    assert [b.line for b in blocks] == [4, 12, 19, 23]
    rows = [r for _, group in doc_blocks.sections(blocks) for r in doc_blocks.run_section(group)]
    assert [r["status"] for r in rows] == ["fail", "not run", "skip", "fail"]
    assert f'File "{md}", line 8' in rows[0]["traceback"]  # the check's own line
    assert (
        f'File "{md}", line 23' in rows[3]["traceback"]
        and "ZeroDivisionError" in rows[3]["traceback"]
    )


# The front-page example and the user-written model run in the fast tier (~4 CPU-s);
# every other section runs whole programs (fits to convergence, bifurcation diagrams,
# a cell from SWC, 4000- and 1000-neuron networks, Hay et al.'s cell): the slow tier,
# whose modules keep many fast tests of the same code.
FAST = ("README.md Example", "README.md Your own model")


@pytest.mark.parametrize(
    "key,blocks",
    [pytest.param(k, b, id=k, marks=[] if k in FAST else [pytest.mark.slow]) for k, b in SECTIONS],
)
def test_doc_section_runs(key, blocks):
    rows = doc_blocks.run_section(blocks)
    bad = [r for r in rows if r["status"] in ("fail", "not run")]
    assert not bad, "\n\n".join(
        f"{r['where']}: {r['status']}\n{r.get('traceback', '')}" for r in bad
    )
    if all(r["status"] == "skip" for r in rows):
        pytest.skip("; ".join(f"{r['where']}: {r['output']}" for r in rows))
