"""Side-by-side table of neurojax, Brian2 and NEURON from the JSON files the benchmark
scripts wrote (`results/*.json`); writes `results/comparison.{json,md}`.

For every (model, N) it takes each tool's run time in each file (the median of that
invocation's timed runs) and, where a configuration was measured in several invocations
(`--neurojax a.json b.json`), the fastest of those medians: on a shared machine other
processes only ever add time. Ratios are neurojax throughput / peer throughput in
neuron-steps per second (> 1: neurojax is faster).

    python benchmarks/compare.py \\
        --neurojax results/neurojax_cpu_float32.json results/neurojax_cpu_float32_b.json \\
        --brian2 results/brian2.json --neuron results/neuron.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as C  # noqa: E402


def load(paths) -> list[dict]:
    rows = []
    for p in paths or []:
        rows += json.loads(Path(p).read_text())["rows"]
    return rows


def best(rows, **match) -> dict | None:
    hits = [r for r in rows if all(r.get(k) == v for k, v in match.items())]
    return min(hits, key=lambda r: r["median_s"]) if hits else None


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--neurojax", nargs="+", required=True)
    p.add_argument("--brian2", nargs="*", default=[])
    p.add_argument("--neuron", nargs="*", default=[])
    p.add_argument("--brainpy", nargs="*", default=[])
    p.add_argument("--dtype", default="float32", help="compare runs of this precision only")
    p.add_argument("--name", default="comparison")
    p.add_argument("--out-dir", type=Path, default=None)
    args = p.parse_args(argv)
    nj, b2, nrn = load(args.neurojax), load(args.brian2), load(args.neuron)
    # Brian2 rows from before its --dtype option were float64, Brian2's default; NEURON is
    # always float64 (its rows are kept: it has no float32 mode).
    nj = [r for r in nj if r.get("dtype") == args.dtype]
    b2 = [r for r in b2 if r.get("dtype", "float64") == args.dtype]
    # BrainPy (float32 runs) joins the Brian2 table as one more "target"
    if args.dtype == "float32":
        b2 += [{**r, "target": "brainpy"} for r in load(args.brainpy)]

    sizes = sorted({r["n"] for r in nj})
    out_rows, md = [], []

    def rate(r):
        return None if r is None else r["neuron_steps_per_s"]

    def ratio(a, b):
        return "–" if a is None or b is None else f"{rate(a) / rate(b):.2g}"

    # Like for like: Brian2's exponential_euler (HH) and exact (LIF) are the scheme of
    # neurojax's ExponentialEuler (exact for the linear LIF, whose default it is). HH's
    # default ExponentialRK2 (second order, one more vector-field evaluation per step) is
    # shown beside it.
    measured = {r["target"] for r in b2}
    targets = [t for t in ("cython", "cpp_standalone", "numpy", "brainpy") if t in measured]
    label = {"brainpy": "BrainPy"}
    label = [label.get(t, f"Brian2 {t}") for t in targets]
    if b2:
        header = ["model", "N", "neurojax exp. Euler"] + label
        header += [f"neurojax / {t}" for t in label] + ["neurojax exp. RK2 (HH default)"]
        table = []
        for model in ("hh", "lif"):
            for n in sizes:
                a = best(nj, model=model, solver="exponential_euler", n=n)
                rk2 = best(nj, model=model, solver="exponential_rk2", n=n)
                peers = [best(b2, model=model, target=t, n=n) for t in targets]
                if a is None or not any(peers):
                    continue
                table.append(
                    [model.upper(), f"{n:.0e}".replace("e+0", "e"), C.fmt_rate(rate(a))]
                    + [C.fmt_rate(rate(b)) for b in peers]
                    + [ratio(a, b) for b in peers]
                    + [C.fmt_rate(rate(rk2))]
                )
                out_rows.append(
                    {
                        "peer": "brian2/brainpy",
                        "model": model,
                        "n": n,
                        "neurojax": rate(a),
                        "neurojax_rk2": rate(rk2),
                        **{t: rate(b) for t, b in zip(targets, peers, strict=True)},
                    }
                )
        md += [
            f"### neurojax vs Brian2 and BrainPy (neuron-steps/s, same populations, 1000 steps, "
            f"{args.dtype})",
            "",
            C.markdown_table(header, table),
            "",
        ]
    if nrn:
        configs = sorted({(r["threads"], r["usetable_hh"], r["cache_efficient"]) for r in nrn})
        header = ["N", "NEURON threads", "usetable_hh", "cache_efficient", "NEURON",
                  "neurojax exp. RK2 (default)", "ratio", "neurojax exp. Euler", "ratio",
                  "neurojax Euler", "ratio"]  # fmt: skip
        table = []
        for n in sizes:
            a = best(nj, model="hh", solver="exponential_euler", n=n)
            rk2 = best(nj, model="hh", solver="exponential_rk2", n=n)
            e = best(nj, model="hh", solver="euler", n=n)
            for th, tb, ce in configs:
                b = best(nrn, n=n, threads=th, usetable_hh=tb, cache_efficient=ce)
                if a is None or b is None:
                    continue
                table.append(
                    [f"{n:.0e}".replace("e+0", "e"), th, tb, ce, C.fmt_rate(rate(b)),
                     C.fmt_rate(rate(rk2)), ratio(rk2, b), C.fmt_rate(rate(a)), ratio(a, b),
                     C.fmt_rate(rate(e)), ratio(e, b)]
                )  # fmt: skip
                out_rows.append(
                    {
                        "peer": "neuron",
                        "model": "hh",
                        "n": n,
                        "threads": th,
                        "usetable_hh": tb,
                        "cache_efficient": ce,
                        "neuron": rate(b),
                        "neurojax_rk2": rate(rk2),
                        "neurojax": rate(a),
                        "neurojax_euler": rate(e),
                    }
                )
        md += [
            f"### neurojax ({args.dtype}) vs NEURON (float64), HH (neuron-steps/s; "
            "ratio = neurojax / NEURON)",
            "",
            C.markdown_table(header, table),
            "",
        ]
    text = "\n".join(md)
    print(text)
    print(f"wrote {C.write(args.name, {'rows': out_rows}, text, args.out_dir)}")


if __name__ == "__main__":
    main()
