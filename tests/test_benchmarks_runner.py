"""`benchmarks/run.py`, the one benchmark command: its groups, their commands and the
summary of a group's results. Nothing is run or timed (no JAX import, < 1 CPU-s); the
runner itself is exercised by `python benchmarks/run.py --quick`."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def run():
    sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location("bench_run", BENCH / "run.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_every_group_has_a_script_that_exists(run):
    assert run.GROUPS[:4] == ["gradient", "populations", "cable", "network"]
    for group in ("hay2011", "dendritic", "compile_cache", "interleaved", "solvers",
                  "memory", "analysis", "emitters"):  # fmt: skip
        assert group in run.GROUPS
    for group, (scripts, what) in run.GROUP_INFO.items():
        assert what, group
        first = scripts.split()[0].rstrip(",")
        assert (BENCH / first).exists(), (group, first)


def test_default_is_every_group_and_unknown_group_is_refused(run, capsys):
    assert run.parse_args([]).only == run.GROUPS
    assert run.parse_args(["--only", "memory", "analysis"]).only == ["memory", "analysis"]
    with pytest.raises(SystemExit):
        run.parse_args(["--only", "nonsense"])
    assert "invalid choice" in capsys.readouterr().err


def test_list_prints_every_group():
    out = subprocess.run(
        [sys.executable, str(BENCH / "run.py"), "--list"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    for group in ("gradient", "hay2011", "dendritic", "emitters"):
        assert any(line.startswith(group) for line in out.splitlines()), group


def test_extra_commands_quick_sizes_and_skips(run, monkeypatch):
    args = run.parse_args(["--quick", "--dendrify-python", "/nonexistent/python"])
    monkeypatch.setattr(run, "has_module", lambda python, module: None)  # no NEURON either
    cmds = run.extra_commands(args, run.QUICK, peers={})
    # a missing peer or NEURON: a line saying why, never a silent omission
    assert "NEURON" in cmds["hay2011"]
    assert "BrainPy" in cmds["interleaved"] and "Brian2" in cmds["interleaved"]
    assert "dendrify" in cmds["dendritic_note"]
    ((_, dendritic),) = cmds["dendritic"]
    assert dendritic[dendritic.index("--targets") + 1 :] == []  # neurojax alone
    # every other group runs its script with the quick sizes
    for group in ("compile_cache", "solvers", "memory", "analysis", "emitters"):
        for _label, cmd in cmds[group]:
            script = Path(cmd[1]).name
            assert (BENCH / script).exists()
    ((_, solvers),) = cmds["solvers"]
    assert solvers[solvers.index("--n") + 1] == "100"
    ((_, profile, env),) = cmds["coba_profile"]  # its sizes come from the environment
    assert env["COBA_N"] == "400" and "full" in env["COBA_PIECES"].split()
    # --no-peers: the skip lines say so rather than blame a missing environment
    args = run.parse_args(["--quick", "--no-peers"])
    cmds = run.extra_commands(args, run.QUICK, peers={})
    assert "--no-peers" in cmds["interleaved"] and "--no-peers" in cmds["dendritic_note"]


def test_full_run_adds_the_readme_sizes(run, monkeypatch):
    monkeypatch.setattr(run, "has_module", lambda python, module: "9")
    args = run.parse_args(["--no-peers"])
    cmds = run.extra_commands(args, run.FULL, peers={})
    labels = [label for label, _ in cmds["solvers"]]
    assert labels == ["solvers", "solvers 1e3"]  # the population gradient at 10⁴ and 10³
    (_, memory), _long = cmds["memory"]
    assert "1000000" in memory  # the README's 10⁶-step gradient memory
    ((_, profile, env),) = cmds["coba_profile"]
    assert "{out}/coba_profile.json" in profile and env == {}  # its own 4000 LIF, 10⁴ steps
    assert run.FULL["cable_branches"] == [50, 200, 1000]


def test_extras_summary_embeds_each_scripts_table(run):
    data = {"extras": {
        "analysis": {"results": {"analysis": {"rows": []}},
                     "md": {"analysis": "# Title\n\n| a |\n|---|\n| 1 |"}},
        "hay2011": {"results": {"hay2011": {"neuron_s": 1.5, "compartments": 281,
                                            "machine": {}}}, "md": {}},
        "solvers": {"results": {}, "md": {}},
    }}  # fmt: skip
    md = "\n".join(run._extras_md(data))
    assert "`analysis`" in md and "### Title" in md and "| 1 |" in md
    assert "| neuron_s | 1.5 |" in md and "| compartments | 281 |" in md
    assert "machine" not in md.split("hay2011")[-1].split("\n## ")[0].replace("`", "")
    assert "No results" in md  # solvers: its process failed
