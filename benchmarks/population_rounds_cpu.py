"""CPU-time ratios of a `run.py --only populations --rounds R --keep-raw DIR` run.

`run.py`'s summary compares the tools by wall time. On a shared machine the wall time of
each process depends on what else runs; the CPU time of the process (user + system, every
thread; for Brian2's C++ standalone the program's, its start included) is the work done,
which the load inflates much less. Every population script records it per call
(`cpu_median_s`); this script reads the raw files that `--keep-raw` kept and writes, per
(model, N, tool, scheme): the CPU-time median of each round, the median over rounds, and
neurojax's throughput ÷ the tool's, paired within each round (the range over rounds) and
over the rounds' medians.

    python benchmarks/population_rounds_cpu.py /tmp/raw --name populations_2026-12-07_cpu

Files: `nj_<model>_<N>[_r<k>].json` (neurojax), `nrn_`, `jx_`, `bp_`, `b2_cython_`,
`b2_cpp_standalone_` (the peers), as `run.py` names them.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402

PREFIX = {
    "nj": "neurojax",
    "nrn": "NEURON",
    "jx": "Jaxley",
    "bp": "BrainPy",
    "b2_cython": "Brian2 Cython",
    "b2_cpp_standalone": "Brian2 C++ standalone",
}
NAME = re.compile(r"^(nj|nrn|jx|bp|b2_cython|b2_cpp_standalone)_(hh|lif)_(\d+)(?:_r(\d+))?\.json$")


def scheme(prefix: str, row: dict) -> str:
    if prefix == "nj":
        return row["solver"] + (" (default)" if row.get("default_solver") else "")
    if prefix == "nrn":
        return f"backward Euler + cnexp, {row['threads']} threads, rate tables"
    if prefix == "jx":
        return "bwd_euler (default)"
    if prefix == "bp":
        return "exp_auto (exponential Euler)"
    return row.get("solver", "")


def load(raw: Path) -> list[dict]:
    rows = []
    for f in sorted(raw.glob("*.json")):
        m = NAME.match(f.name)
        if not m:
            continue
        prefix, model, n, rnd = m.group(1), m.group(2), int(m.group(3)), int(m.group(4) or 0)
        for r in json.loads(f.read_text()).get("rows", []):
            if r.get("cpu_median_s") is None:
                raise SystemExit(
                    f"{f}: a row without cpu_median_s (written before the scripts recorded "
                    "CPU time): rerun run.py with the current benchmarks/"
                )
            rows.append(
                {
                    "tool": PREFIX[prefix],
                    "prefix": prefix,
                    "model": model,
                    "n": n,
                    "steps": r["steps"],
                    "round": rnd,
                    "scheme": scheme(prefix, r),
                    "cpu_s": r["cpu_median_s"],
                    "wall_s": r["median_s"],
                    "mean_rate_hz": r.get("mean_rate_hz"),
                }
            )
    return rows


def table(rows: list[dict]) -> list[dict]:
    groups: dict = {}
    for r in rows:
        groups.setdefault((r["model"], r["n"], r["tool"], r["scheme"]), []).append(r)
    nj = {
        (m, n, s): {r["round"]: r["cpu_s"] for r in g}
        for (m, n, t, s), g in groups.items()
        if t == "neurojax"
    }
    out = []
    for (model, n, tool, sch), g in groups.items():
        by_round = {r["round"]: r["cpu_s"] for r in g}
        med = statistics.median(by_round.values())
        rec = {
            "model": model,
            "n": n,
            "tool": tool,
            "scheme": sch,
            "steps": g[0]["steps"],
            "cpu_s_by_round": by_round,
            "cpu_median_s": med,
            "wall_median_s": statistics.median(r["wall_s"] for r in g),
            "neuron_steps_per_cpu_s": n * g[0]["steps"] / med,
            "mean_rate_hz": g[0]["mean_rate_hz"],
            "ratios": {},
        }
        if tool != "neurojax":
            for (m2, n2, s2), nj_rounds in nj.items():
                if (m2, n2) != (model, n):
                    continue
                paired = [by_round[k] / nj_rounds[k] for k in by_round if k in nj_rounds]
                rec["ratios"][s2] = {
                    "of_medians": med / statistics.median(nj_rounds.values()),
                    "paired_by_round": paired,
                }
        out.append(rec)
    order = ["neurojax", "BrainPy", "Jaxley", "Brian2 C++ standalone", "Brian2 Cython", "NEURON"]
    out.sort(key=lambda r: (r["model"], r["n"], order.index(r["tool"]), r["scheme"]))
    return out


def markdown(recs: list[dict], meta: str) -> str:
    lines = [meta, ""]
    header = ["model", "N", "tool", "scheme", "CPU per run (ms), each round", "median",
              "neuron-steps per CPU-s", "mean rate (Hz)", "neurojax faster by (CPU): "
              "of the medians [range of the rounds' paired ratios]"]  # fmt: skip
    body = []
    for r in recs:
        ratios = "; ".join(
            f"{s}: **{v['of_medians']:.2f}**"
            + (
                f" [{min(v['paired_by_round']):.2f}–{max(v['paired_by_round']):.2f}]"
                if len(v["paired_by_round"]) > 1
                else ""
            )
            for s, v in r["ratios"].items()
        )
        body.append(
            [
                r["model"].upper(),
                f"{r['n']:.0e}".replace("+0", ""),
                r["tool"],
                r["scheme"],
                " / ".join(f"{v * 1e3:.1f}" for _, v in sorted(r["cpu_s_by_round"].items())),
                f"{r['cpu_median_s'] * 1e3:.1f}",
                f"{r['neuron_steps_per_cpu_s']:.3g}",
                C.fmt_rate(r["mean_rate_hz"]),
                ratios or "–",
            ]  # fmt: skip
        )
    lines.append(C.markdown_table(header, body))
    return "\n".join(lines) + "\n"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("raw", type=Path, help="the folder run.py's --keep-raw kept")
    p.add_argument("--name", default="populations_rounds_cpu")
    p.add_argument("--out-dir", type=Path, default=None)
    p.add_argument("--note", default="", help="a line on the run (date, load, command)")
    args = p.parse_args(argv)
    rows = load(args.raw)
    if not rows:
        raise SystemExit(f"no population results (nj_*.json, ...) in {args.raw}")
    recs = table(rows)
    md = markdown(recs, "CPU time of each call (process user + system, every thread; Brian2 "
                  "standalone: its program's, start included). " + args.note)  # fmt: skip
    print(md)
    C.write(args.name, {"note": args.note, "rows": recs}, md, out_dir=args.out_dir)


if __name__ == "__main__":
    main()
