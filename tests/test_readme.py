"""Every Python block of the README runs as written, on the installed package.

The blocks of one `##` section run in order in one namespace (a block may use the imports
and variables of the blocks before it in its section, never those of another section),
in a fresh working directory, with matplotlib's non-interactive backend."""

import re
from pathlib import Path

import matplotlib
import pytest

README = Path(__file__).resolve().parent.parent / "README.md"


def _sections() -> list[tuple[str, list[tuple[int, str]]]]:
    """`(title, [(first line number, code), ...])` for every `##` section with Python."""
    sections: list[tuple[str, list[tuple[int, str]]]] = []
    title, blocks, code, start = "(top)", [], None, 0
    for number, line in enumerate(README.read_text(encoding="utf-8").splitlines(), 1):
        if code is not None:
            if line.strip() == "```":
                blocks.append((start, "\n".join(code)))
                code = None
            else:
                code.append(line)
        elif line.startswith("```python"):
            code, start = [], number + 1
        elif re.match(r"^## ", line):
            if blocks:
                sections.append((title, blocks))
            title, blocks = line[3:].strip(), []
    if blocks:
        sections.append((title, blocks))
    return sections


SECTIONS = _sections()


def test_the_readme_has_code_in_the_sections_it_documents():
    titles = [t for t, _ in SECTIONS]
    for expected in ("Example", "Cable", "Synapses", "Fitting", "Dynamics"):
        assert any(t.startswith(expected) for t in titles), (expected, titles)


# Sections whose blocks run whole validations or large programs (a fit to convergence,
# bifurcation diagrams with limit cycles, a cell from SWC, a 4000-neuron network): the
# slow tier runs them (their modules keep many fast tests); the fast tier runs the
# front-page example and the user-written model.
SLOW_SECTIONS = ("Fitting", "Dynamics analysis", "Cable and multicompartment cells",
                 "Synapses and networks")  # fmt: skip


@pytest.mark.parametrize(
    "title,blocks",
    [
        pytest.param(t, b, id=t, marks=[pytest.mark.slow] if t in SLOW_SECTIONS else [])
        for t, b in SECTIONS
    ],
)
def test_readme_section_runs(title, blocks, tmp_path, monkeypatch):
    matplotlib.use("Agg")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__readme__"}
    for line, code in blocks:
        # compiled under the README's name and line, so a failure points at the block
        exec(compile("\n" * (line - 1) + code, str(README), "exec"), namespace)
    import matplotlib.pyplot as plt

    plt.close("all")
