"""`python -m neurojax demo` (the README's main job) runs and writes its figures."""

import numpy as np

from neurojax import _demo
from neurojax.__main__ import main


def test_demo_writes_figures_and_improves_the_fit(tmp_path, capsys):
    out = tmp_path / "figures"
    summary = _demo.run_demo(out, fast=True)
    printed = capsys.readouterr().out
    assert "fit step" in printed and "figures in" in printed  # progress is shown
    for name in ("simulations.png", "fit_traces.png", "fit_loss.png", "cable.png", "network.png"):
        png = (out / name).read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000, name
    # from (0.6, 1.4, 1.4) x the truth (~27 mV² of trace MSE), fit's default strategy
    # (the data-driven start, then up to 8 Levenberg–Marquardt steps) reaches the 1 mV²
    # noise floor, and every conductance moves towards the truth
    result = summary["result"]
    start = summary["truth"] * np.array(_demo.GUESS)
    guess_loss = float(result.objective(tuple(np.float32(g) for g in start)))
    assert guess_loss > 10.0 and result.loss < 2.0
    assert np.all(np.abs(summary["fitted"] - summary["truth"]) < np.abs(start - summary["truth"]))


def test_cli_runs_the_demo(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(_demo, "run_demo", lambda **kw: calls.append(kw))
    assert main(["demo", "--out", str(tmp_path), "--fast"]) == 0
    assert calls == [{"out_dir": str(tmp_path), "fast": True}]
