"""Session-15 experiments on the 10⁴-neuron dendritic network's step (bench_dendritic.py's
network, `Euler()`, dt 0.1 ms), against the library as it was at a former commit, both
compiled in one process and timed by process CPU time in interleaved rounds (the shared
VM is loaded), medians per step.

The former library is the `neurojax` package of `--former COMMIT` (`git archive`),
imported as `neurojax_former` (its absolute imports renamed), so no switch keeps the
former code in the library. Spike counts are compared neuron by neuron (`same_as_first`:
the changes of this session keep the spikes bit for bit).

    python benchmarks/exp_dendritic_s15.py [--former e72408e] [--rounds 7] [--steps 2000]
        [--variants former full ...] [--hlo] [--out FILE]

Variants: `former` (the library at `--former`), `full` (the library as it is), and
diagnostics `diag_*` (not the library's behaviour; see `VARIANTS`).

Session 15 measured the arrival rings with it (not kept; benchmarks/README.md "Dendritic
networks"): to measure them again, `git apply benchmarks/exp_dendritic_s15_rings.patch`
(the library change and its tests against e72408e), then run this script (`full` is then
the rings, `former` the library without them); `git apply -R` to undo.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import jax
import jax.numpy as jnp

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import bench_dendritic as B  # noqa: E402
from exp_dendritic_s12 import body_ops, cpu_s, patched  # noqa: E402


def former_package(commit: str) -> str:
    """Unpack `neurojax/` of `commit` as the package `neurojax_former` in a temporary
    directory (absolute `neurojax` imports renamed) and put it on `sys.path`."""
    root = Path(tempfile.mkdtemp(prefix="neurojax-former-"))
    tar = subprocess.run(
        ["git", "-C", str(HERE.parent), "archive", commit, "neurojax"],
        check=True,
        capture_output=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(root)], input=tar, check=True)
    pkg = root / "neurojax_former"
    (root / "neurojax").rename(pkg)
    for f in pkg.rglob("*.py"):
        text = f.read_text()
        new = re.sub(r"\b(from|import) neurojax(\b|\.)", r"\1 neurojax_former\2", text)
        if new != text:
            f.write_text(new)
    sys.path.insert(0, str(root))
    return "neurojax_former"


def network(mod: str, n: int):
    """bench_dendritic.py's network built with the package `mod`."""
    if mod == "neurojax":
        return B.neurojax_network(n)
    saved = {k: v for k, v in sys.modules.items() if k == "neurojax" or k.startswith("neurojax.")}
    try:  # bench_dendritic imports `neurojax`: point it at `mod` while it builds
        for k in list(saved):
            del sys.modules[k]
        m = importlib.import_module(mod)
        sys.modules["neurojax"] = m
        for k, v in list(sys.modules.items()):
            if k.startswith(mod + "."):
                sys.modules["neurojax" + k[len(mod) :]] = v
        return B.neurojax_network(n)
    finally:
        for k in [k for k in sys.modules if k == "neurojax" or k.startswith("neurojax.")]:
            del sys.modules[k]
        sys.modules.update(saved)


def huge_pages(tree) -> int:
    """Diagnostic: back the array leaves of `tree` (their CPU buffers, rounded out to
    2 MiB) by transparent huge pages now (`madvise(MADV_HUGEPAGE)` then
    `MADV_COLLAPSE`, Linux >= 6.1); returns the bytes collapsed."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    huge, done = 2 << 20, 0
    for x in jax.tree.leaves(tree):
        if not hasattr(x, "unsafe_buffer_pointer") or x.nbytes < (1 << 20):
            continue
        p = x.unsafe_buffer_pointer()
        start, end = p // huge * huge, -(-(p + x.nbytes) // huge) * huge
        for advice in (14, 25):  # MADV_HUGEPAGE, MADV_COLLAPSE
            if libc.madvise(start, end - start, advice) != 0:
                print("madvise", advice, "failed, errno", ctypes.get_errno(), flush=True)
                break
        else:
            done += end - start
    return done


def _fixed_total(key, lam, shape):
    """Diagnostic: a drive's total count per step `round(mean)` (no random draw; not
    the Poisson distribution): what drawing the totals costs in the step."""
    if shape == ():
        return jnp.round(lam).astype(jnp.int32)
    return _poisson_counts(key, lam, shape)


from neurojax.network import _projection as PJ  # noqa: E402

_poisson_counts = PJ.poisson_counts

VARIANTS = {
    "former": "former",
    "full": "full",
    # the pooled drives' totals not drawn (`_fixed_total`): other spikes
    "diag_fixed_total": [(PJ, "poisson_counts", _fixed_total)],
    # the library as it is, its connectivity tables in huge pages (`huge_pages`)
    "diag_huge": "huge",
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--former", default="e72408e")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--variants", nargs="*", default=list(VARIANTS))
    ap.add_argument("--out", default=None)
    ap.add_argument("--hlo", action="store_true", help="print the step's kernel counts")
    args = ap.parse_args()
    import neurojax as nj

    former = former_package(args.former)
    nj_former = importlib.import_module(former)
    inputs = {"E": jnp.zeros((args.steps, 1))}

    def sim_with(nj):
        save = nj.SaveAt(every=100, vars=(), spike_dtype=jnp.int16)

        def sim(net, key):
            sp = nj.simulate(
                net, inputs, dt=B.DT, key=key, solver=nj.solvers.Euler(), saveat=save
            ).spikes
            return jax.tree.map(lambda s: jnp.sum(s, axis=0, dtype=jnp.int32), sp)

        return sim

    key = jax.random.key(1)
    compiled, spikes, ops, nets = {}, {}, {}, {}
    first = None
    for v in args.variants:
        kind = VARIANTS[v]
        if kind == "former":
            nets[v], sim, patches = network(former, args.n), sim_with(nj_former), []
        else:
            nets[v], sim = network("neurojax", args.n), sim_with(nj)
            patches = [] if kind in ("full", "huge") else kind
            if kind == "huge":
                conns = [p.connectivity for p in nets[v].projections]
                print("huge pages:", huge_pages(conns) >> 20, "MiB", flush=True)
        compiled[v] = jax.jit(patched(sim, patches)).lower(nets[v], key).compile()
        counts = compiled[v](nets[v], key)
        spikes[v] = {k: int(jnp.sum(c)) for k, c in counts.items()}
        if first is None:
            first = counts
        spikes[v]["same_as_first"] = all(bool(jnp.array_equal(counts[k], first[k])) for k in counts)
        if args.hlo:
            ops[v] = body_ops(compiled[v].as_text())
            print(v, ops[v], flush=True)
    times = {v: [] for v in args.variants}
    loads = []
    for r in range(args.rounds):
        loads.append(os.getloadavg()[0])
        for v in args.variants:
            c = cpu_s()
            jax.block_until_ready(compiled[v](nets[v], jax.random.key(2 + r)))
            times[v].append(cpu_s() - c)
    diffs = {
        v: sorted(
            1e6 * (a - b) / args.steps for a, b in zip(times[v], times["former"], strict=True)
        )
        for v in args.variants
        if "former" in times and v != "former"
    }
    out = dict(
        n=args.n,
        steps=args.steps,
        former=args.former,
        spikes=spikes,
        cpu_s_all=times,
        us_per_step={v: 1e6 * statistics.median(t) / args.steps for v, t in times.items()},
        us_per_step_range={
            v: [1e6 * min(t) / args.steps, 1e6 * max(t) / args.steps] for v, t in times.items()
        },
        minus_former_us_per_step={
            v: dict(median=statistics.median(d), range=[d[0], d[-1]]) for v, d in diffs.items()
        },
        hlo=ops,
        load_per_round=loads,
    )
    if args.out:
        Path(args.out).write_text(json.dumps(out, indent=1) + "\n")
    keys = ("spikes", "us_per_step", "us_per_step_range", "minus_former_us_per_step")
    print(json.dumps({k: out[k] for k in (*keys, "load_per_round")}, indent=1))


if __name__ == "__main__":
    main()
