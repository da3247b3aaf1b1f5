"""Fit ten channel densities of Hay et al. (2011)'s L5b cell (`cable.hay2011_cell`, the
simplified 281-compartment morphology) to the reference cell's own somatic and distal
apical voltage, from starts drawn uniformly in ±50 % of the truth: `neurojax.fit`
(Levenberg–Marquardt, Jacobian by batched forward mode) against a plain CMA-ES at the same
simulation budget.

Protocol (one run of `T` ms at dt 0.025 ms, the cell's own scheme, float32): a somatic
step of 0.5 nA from 3 to 20 ms (repetitive firing), then the BAC protocol — a somatic
1.9 nA × 5 ms pulse at 25 ms and an EPSP current (0.5 nA, rise 0.5 ms, decay 5 ms) at the
trunk 620 µm from the soma at 30 ms. Recorded: the soma and the trunk site.

Budget accounting: one LM evaluation is a simulation plus a Jacobian by forward mode
with one tangent per parameter; it is counted as 1 + P simulations (P = 10), generous to
CMA-ES (the batched tangents cost less than P separate runs; the measured ratio is in the
JSON). CMA-ES gets that many simulations per start.

    python validation/hay2011_fit.py                  # full study -> docs/hay2011_fit.json
    python validation/hay2011_fit.py --starts 1 --steps 3   # smoke

    python validation/hay2011_fit.py --variant bounded   # both searches in a 0.3-3x box
    python validation/hay2011_fit.py --variant staged    # WindowedFeatures first, then LM

Result (docs/fitting.md, "Hay et al.'s L5 cell"): neither method recovers the ten
densities at ~270 simulations per start; CMA-ES ends at lower losses than LM. The trace
MSE's basin around the truth is < 1 % wide (0.1 % off: 4 mV², 1 % off: 59 mV²).
Staged (10 L-BFGS steps on `WindowedFeatures(windows=6)`, then 8 LM steps on the trace
MSE; 658 simulations per start): trace losses 1.6–162 mV² (plain LM 67–245), 10 of 50
densities within 10 % (plain LM 7, CMA-ES at the same budget 13), none of the five
starts recovers all ten: the protocol leaves Ih, SK_E2, K_Tst, Ca_LVAst and apical
SKv3_1 / Im loosely constrained (1.55 mV² with somatic Ih at 8.6x and apical SKv3_1 at 0).
The study uses 45 ms at dt 0.025 ms (not 0.05: the spike peak differs by ~7 mV between
the two, so the coarser step was not used). Times are on a shared 2-core VM with other
jobs running: indicative only.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

import neurojax as nj
from neurojax import cable

DT = 0.025  # ms, as the reference's validation against NEURON
T = 45.0  # ms
BOX = (0.3, 3.0)  # --variant bounded: each density within these factors of the published value
DEND_UM = 620.0  # µm, the recorded trunk site (also the EPSP site)

# (label, mechanism index in hay2011_mechanisms order, field): the uniform densities.
# The apical Ca_LVAst/Ca_HVA hot zone and the apical Ih gradient are per-compartment
# arrays (191 values), not single densities: not fitted here (a scale factor on them
# would need a reparametrised cell).
DENSITIES = [
    ("soma NaTa_t", 7, "gNaTa_tbar"),
    ("soma SKv3_1", 10, "gSKv3_1bar"),
    ("soma SK_E2", 9, "gSK_E2bar"),
    ("soma Ca_HVA", 2, "gCa_HVAbar"),
    ("soma Ca_LVAst", 3, "gCa_LVAstbar"),
    ("soma K_Tst", 6, "gK_Tstbar"),
    ("soma Ih", 4, "gIhbar"),
    ("apical Im", 18, "gImbar"),
    ("apical NaTa_t", 19, "gNaTa_tbar"),
    ("apical SKv3_1", 21, "gSKv3_1bar"),
]


def trainable_for(densities):
    def trainable(c):
        return tuple(getattr(c.mechanisms[k], f) for _, k, f in densities)

    return trainable


LONG_T = 250.0  # ms, --protocol long


def setup(T=T, dt=DT, protocol="bac"):
    """The reference cell, its inputs (dict for `simulate`), the SaveAt and the target
    `(n_steps, 2)` mV (soma, trunk 620 µm). `protocol="long"` (use `T=LONG_T`): after the
    step + BAC, a −0.5 nA somatic step at 60–110 ms and a 0.8 nA step at 130–230 ms
    (Ih sag; adaptation by SK_E2 / K_Tst / Im): it determines 9 of the 10 densities to
    < 5 % at 1 mV noise, against 4 of 10 for the 45 ms protocol (docs/fitting.md)."""
    morph = cable.hay2011_morphology()
    dend = cable.site_at_distance(morph, DEND_UM)
    cell = cable.hay2011_cell(morph, clamps=[(0, 0.5), dend])
    n = int(round(T / dt))
    t = (np.arange(n) + 0.5) * dt  # mid-step times, NEURON's rule
    soma = np.where((t >= 3) & (t < 20), 0.5, 0.0) + np.where((t >= 25) & (t < 30), 1.9, 0.0)
    if protocol == "long":
        soma = soma + np.where((t >= 60) & (t < 110), -0.5, 0.0)
        soma = soma + np.where((t >= 130) & (t < 230), 0.8, 0.0)
    elif protocol != "bac":
        raise ValueError(f"protocol must be 'bac' or 'long', got {protocol!r}.")
    epsp = cable.epsp_current(t, onset=30.0, imax=0.5)
    inputs = jnp.asarray(np.stack([soma, epsp], -1), jnp.float32)
    saveat = nj.SaveAt(fn=cell.record_v([(0, 0.5), dend]))
    target = nj.simulate(cell, inputs, dt=dt, saveat=saveat).states
    return cell, inputs, saveat, target


def draw_starts(truth, n, seed=0, spread=0.5):
    rng = np.random.default_rng(seed)
    return truth[None, :] * rng.uniform(1 - spread, 1 + spread, size=(n, truth.size))


def cma_es(f, x0, sigma, budget, popsize, seed):
    """A plain (μ/μ_w, λ)-CMA-ES (Hansen 2016, "The CMA evolution strategy: a tutorial",
    default constants) minimising `f` (a batch of points `(λ, n)` -> `(λ,)`). Returns the
    best point, its value and the best-so-far value after each generation with the
    simulations spent."""
    rng = np.random.default_rng(seed)
    n = x0.size
    lam = popsize
    mu = lam // 2
    w = np.log(mu + 0.5) - np.log(np.arange(1, mu + 1))
    w /= w.sum()
    mueff = 1 / np.sum(w**2)
    cc = (4 + mueff / n) / (n + 4 + 2 * mueff / n)
    cs = (mueff + 2) / (n + mueff + 5)
    c1 = 2 / ((n + 1.3) ** 2 + mueff)
    cmu = min(1 - c1, 2 * (mueff - 2 + 1 / mueff) / ((n + 2) ** 2 + mueff))
    damps = 1 + 2 * max(0, np.sqrt((mueff - 1) / (n + 1)) - 1) + cs
    chin = np.sqrt(n) * (1 - 1 / (4 * n) + 1 / (21 * n**2))
    m = x0.astype(float).copy()
    C = np.eye(n)
    pc = np.zeros(n)
    ps = np.zeros(n)
    best_x, best_f, used, hist, g = m.copy(), np.inf, 0, [], 0
    while used + lam <= budget:
        g += 1
        eigval, B = np.linalg.eigh(C)
        D = np.sqrt(np.maximum(eigval, 1e-20))
        z = rng.standard_normal((lam, n))
        y = z @ (B * D).T
        x = m + sigma * y
        fx = np.asarray(f(x), float)
        fx = np.where(np.isfinite(fx), fx, np.inf)
        used += lam
        order = np.argsort(fx)
        if fx[order[0]] < best_f:
            best_f, best_x = float(fx[order[0]]), x[order[0]].copy()
        hist.append((used, best_f))
        yw = w @ y[order[:mu]]
        m = m + sigma * yw
        Cinvsqrt = B @ np.diag(1 / D) @ B.T
        ps = (1 - cs) * ps + np.sqrt(cs * (2 - cs) * mueff) * Cinvsqrt @ yw
        hsig = np.linalg.norm(ps) / np.sqrt(1 - (1 - cs) ** (2 * g)) / chin < 1.4 + 2 / (n + 1)
        pc = (1 - cc) * pc + hsig * np.sqrt(cc * (2 - cc) * mueff) * yw
        yk = y[order[:mu]]
        C = ((1 - c1 - cmu) * C + c1 * (np.outer(pc, pc) + (1 - hsig) * cc * (2 - cc) * C)
             + cmu * (yk.T * w) @ yk)  # fmt: skip
        sigma *= np.exp((cs / damps) * (np.linalg.norm(ps) / chin - 1))
    return best_x, best_f, hist


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--starts", type=int, default=5)
    p.add_argument("--steps", type=int, default=8, help="LM steps (all starts at once)")
    p.add_argument("--T", type=float, default=T)
    p.add_argument("--popsize", type=int, default=10)
    p.add_argument("--protocol", choices=["bac", "long"], default="bac",
                   help="long: with --T 250, adds a hyperpolarising and a long step")
    p.add_argument("--feature-steps", type=int, default=10,
                   help="--variant staged: L-BFGS steps on WindowedFeatures before LM")
    p.add_argument("--variant", choices=["default", "bounded", "staged"], default="default",
                   help="bounded: both methods search the box BOX x the published values "
                   "(LM through Bounded's sigmoid, CMA-ES clipped); merged into --out")
    docs = Path(__file__).resolve().parent.parent / "docs"
    p.add_argument("--out", default=str(docs / "hay2011_fit.json"))
    args = p.parse_args(argv)

    cpu0 = time.process_time()
    cell, inputs, saveat, target = setup(args.T, protocol=args.protocol)
    trainable = trainable_for(DENSITIES)
    truth = np.array([float(x) for x in trainable(cell)])
    P = truth.size
    starts = draw_starts(truth, args.starts)
    labels = [d[0] for d in DENSITIES]
    out = {"T_ms": args.T, "dt_ms": DT, "densities": labels, "truth": truth.tolist(),
           "starts": starts.tolist(),
           "machine": "shared 2-core VM, other jobs running"}  # fmt: skip

    def with_params(x):
        return eqx.tree_at(trainable, cell, tuple(x[i] for i in range(P)))

    # one simulation, compiled, for the budget's unit
    sim = jax.jit(lambda x: nj.simulate(with_params(x), inputs, dt=DT, saveat=saveat).states)
    sim(jnp.asarray(truth, jnp.float32)).block_until_ready()
    t0 = time.perf_counter()
    sim(jnp.asarray(starts[0], jnp.float32)).block_until_ready()
    out["one_simulation_s"] = time.perf_counter() - t0

    # ---- gradient descent: neurojax.fit (default optimiser: LM), every start together
    guess = with_params(jnp.asarray(starts[0], jnp.float32))
    start_leaves = tuple(jnp.asarray(starts[:, i], jnp.float32) for i in range(P))
    t0, c0 = time.perf_counter(), time.process_time()
    bounded = args.variant == "bounded"
    constraints = (tuple(nj.fitting.Bounded(BOX[0] * g, BOX[1] * g) for g in truth)
                   if bounded else None)  # fmt: skip
    n_eval_features = 0.0
    if args.variant == "staged":
        # stage 1: a loss smooth in spike timing (windowed mean, SD and soft spike count of
        # both recordings), L-BFGS (fit's default for it), reverse mode; each start's best
        # point then starts the trace-MSE Levenberg–Marquardt
        # forward mode (10 tangents, as LM's Jacobian). fit's default for 10 densities of
        # a cell, checkpointed reverse mode, failed here under the vmap over starts (a JAX
        # AssertionError in the tree solve's custom_vmap inside L-BFGS's lax.cond), fixed
        # since (tests/test_cable_tree_solve.py::test_gradient_under_vmap_of_cond); the
        # study's figures were measured with forward mode
        features = nj.fitting.WindowedFeatures(windows=6)
        r1 = nj.fit(guess, inputs, target, dt=DT, trainable=trainable, saveat=saveat,
                    loss=features, steps=args.feature_steps, strategy=None,
                    adjoint=nj.ForwardMode(), starts=start_leaves,
                    progress_meter=nj.NoProgress())  # fmt: skip
        n_eval_features = int(r1.n_evaluations) / args.starts
        after1 = np.stack([np.asarray(x) for x in jax.tree_util.tree_leaves(r1.start_params)], -1)
        out["features_stage"] = {
            "loss": "WindowedFeatures(windows=6)", "steps": int(r1.n_steps),
            "n_evaluations_total": int(r1.n_evaluations),
            "wall_s": time.perf_counter() - t0, "cpu_s": time.process_time() - c0,
            "start_losses": np.asarray(r1.start_losses).tolist(),
            "rel_error": (after1 / truth[None] - 1).tolist()}  # fmt: skip
        print("features stage", out["features_stage"], flush=True)
        start_leaves = tuple(jnp.asarray(after1[:, i], jnp.float32) for i in range(P))
        guess = with_params(jnp.asarray(after1[0], jnp.float32))
    r = nj.fit(guess, inputs, target, dt=DT, trainable=trainable, saveat=saveat,
               steps=args.steps, strategy=None, starts=start_leaves, constraints=constraints,
               progress_meter=nj.NoProgress())  # fmt: skip
    out["lm_wall_s"], out["lm_cpu_s"] = time.perf_counter() - t0, time.process_time() - c0
    all_losses = np.asarray(r.all_losses)  # (steps, starts)
    hist = [np.asarray(h) for h in r.all_param_history]  # each (steps, starts)
    # evaluations per start, each a simulation with its gradient: 1 + P simulations
    n_eval = int(r.n_evaluations) / args.starts + n_eval_features
    out["lm_n_evaluations_total"] = int(r.n_evaluations)
    out["lm_stop_reason"] = str(r.stop_reason)
    lm = []
    for s in range(args.starts):
        k = int(np.nanargmin(all_losses[:, s]))
        got = np.array([h[k, s] for h in hist])
        row = {"start": s, "rel_error": (got / truth - 1).tolist(),
               "loss": float(all_losses[k, s]), "losses": all_losses[:, s].tolist(),
               "simulations_equivalent": int(round(n_eval * (1 + P)))}  # fmt: skip
        print("LM", s, {k: v for k, v in row.items() if k != "losses"}, flush=True)
        lm.append(row)
    out["lm"] = lm

    # ---- CMA-ES in log space (x = log(g / g_start)), same budget per start
    def loss_batch(logx, s):
        x = starts[s][None, :] * np.exp(logx)
        if bounded:
            x = np.clip(x, BOX[0] * truth, BOX[1] * truth)
        x = jnp.asarray(x, jnp.float32)
        v = jax.vmap(sim)(x)
        return np.asarray(jnp.mean((v - target[None]) ** 2, axis=(1, 2)))

    cma = []
    for s in range(args.starts):
        budget = lm[s]["simulations_equivalent"]
        t0, c0 = time.perf_counter(), time.process_time()
        bx, bf, hist = cma_es(lambda z, s=s: loss_batch(z, s), np.zeros(P), 0.25, budget,
                              args.popsize, seed=s)  # fmt: skip
        got = starts[s] * np.exp(bx)
        if bounded:
            got = np.clip(got, BOX[0] * truth, BOX[1] * truth)
        row = {"start": s, "rel_error": (got / truth - 1).tolist(), "loss": bf,
               "history": hist, "simulations": hist[-1][0] if hist else 0,
               "wall_s": time.perf_counter() - t0, "cpu_s": time.process_time() - c0}  # fmt: skip
        print("CMA", s, {k: v for k, v in row.items() if k != "history"}, flush=True)
        cma.append(row)
    out["cma_es"] = cma
    out["total_cpu_s"] = time.process_time() - cpu0
    path = Path(args.out)
    allres = json.loads(path.read_text()) if path.exists() else {}
    if "lm" in allres:  # an older single-variant file: the default variant
        allres = {"default": allres}
    out["protocol"] = args.protocol
    allres[args.variant if args.protocol == "bac" else f"{args.variant}-{args.protocol}"] = out
    path.write_text(json.dumps(allres, indent=1))
    print("wrote", args.out)


if __name__ == "__main__":
    main()
