"""benchmarks/population_rounds_cpu.py: CPU-time ratios of run.py's population rounds,
from synthetic raw files (no benchmark runs; fast)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def prc():
    import sys

    sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location(
        "population_rounds_cpu", BENCH / "population_rounds_cpu.py"
    )
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _write(folder: Path, name: str, rows: list[dict]):
    (folder / name).write_text(json.dumps({"rows": rows}))


def _nj(cpu, wall=None):
    return {"solver": "staggered", "default_solver": True, "steps": 1000,
            "cpu_median_s": cpu, "median_s": wall or 2 * cpu, "mean_rate_hz": 76.2}  # fmt: skip


def _peer(cpu):
    return {"steps": 1000, "cpu_median_s": cpu, "median_s": 3 * cpu, "mean_rate_hz": 76.2}


def test_ratios_are_paired_by_round_and_of_the_medians(prc, tmp_path):
    # neurojax 0.05 / 0.04 / 0.06 s, BrainPy 0.10 / 0.12 / 0.18 s: per round 2.0, 3.0, 3.0;
    # of the medians 0.12 / 0.05 = 2.4 (exact arithmetic on the given numbers)
    for k, (a, b) in enumerate([(0.05, 0.10), (0.04, 0.12), (0.06, 0.18)]):
        suffix = f"_r{k}" if k else ""
        _write(tmp_path, f"nj_hh_10000{suffix}.json", [_nj(a)])
        _write(tmp_path, f"bp_hh_10000{suffix}.json", [_peer(b)])
    _write(tmp_path, "jx_hh_10000.json", [_peer(0.2)])  # one round only
    _write(tmp_path, "unrelated.json", [_peer(1.0)])  # not a population file: ignored
    recs = {r["tool"]: r for r in prc.table(prc.load(tmp_path))}
    assert set(recs) == {"neurojax", "BrainPy", "Jaxley"}
    bp = recs["BrainPy"]["ratios"]["staggered (default)"]
    assert bp["of_medians"] == pytest.approx(2.4, rel=1e-12)
    assert bp["paired_by_round"] == pytest.approx([2.0, 3.0, 3.0], rel=1e-12)
    jx = recs["Jaxley"]["ratios"]["staggered (default)"]
    assert jx["paired_by_round"] == pytest.approx([4.0], rel=1e-12)  # round 0 only
    assert recs["neurojax"]["neuron_steps_per_cpu_s"] == pytest.approx(1e4 * 1000 / 0.05)
    md = prc.markdown(list(recs.values()), "note")
    assert "**2.40** [2.00–3.00]" in md


def test_refuses_files_without_cpu_time_and_an_empty_folder(prc, tmp_path):
    with pytest.raises(SystemExit, match="no population results"):
        prc.main([str(tmp_path), "--out-dir", str(tmp_path / "out")])
    old = _peer(0.1)
    del old["cpu_median_s"]
    _write(tmp_path, "bp_lif_100000.json", [old])
    with pytest.raises(SystemExit, match="without cpu_median_s"):
        prc.load(tmp_path)
