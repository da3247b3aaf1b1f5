"""`identifiability`: which fitted parameters the data constrain, from the Jacobian of
the prediction (local, linearised: the Gauss–Newton / Fisher information at a point)."""

from __future__ import annotations

import dataclasses
import warnings

import jax
import jax.numpy as jnp
import jax.tree_util as jtu
import numpy as np

from .._saveat import SaveAt
from .._simulate import simulate
from ._losses import TraceMSE, WeightedSum, _mask, loss_requires
from ._objective import Objective, parameter_name

DEFAULT_RTOL = 0.05
"""`identifiability`'s default flag: a parameter is poorly constrained when its relative
standard deviation exceeds 5 %."""

DEFAULT_SIGMA_V = 1.0
"""Default voltage noise, mV (white, per recorded row): typical of a patch-clamp
recording once filtered."""


@dataclasses.dataclass(frozen=True, repr=False)
class Identifiability:
    """How well the data determine each parameter, near `values` (a linearisation).

    Coordinates are relative: `θᵢ = δpᵢ/pᵢ` (log-parameters; absolute `δpᵢ` for a
    parameter equal to 0). With Gaussian noise of the given size on the observed
    features (voltage rows and/or spike times), the Fisher information of `θ` is the
    Gauss–Newton matrix `F = Jᵀ Σ⁻¹ J` and the Cramér–Rao bound on the covariance is
    `F⁻¹`.

    - `names`: one per scalar parameter (`g_na`, `mechanisms[1].g_k`, `g[3]` for element
      3 of an array parameter); `values`: their values.
    - `rel_std`: `√diag(F⁻¹)`, the standard deviation of each parameter relative to its
      value (∞ where `F` is singular along a direction involving it). A fit of
      noise-free data recovers everything; this is the spread to expect over noisy
      repeats.
    - `fisher`: `F`; `jacobian`: `J` (features × parameters, each feature row divided
      by its noise σ); `eigenvalues` (descending) and `eigenvectors` (columns) of `F`:
      the last columns are the sloppiest directions in relative parameter space.
    - `condition_number`: `λ_max/λ_min` of `F` (∞ if singular).
    - `poorly_constrained`: names with `rel_std > rtol`.
    - `features`: what was observed (`"v"`: voltage rows, σ = `sigma_v` mV; `"spike
      times"`: threshold crossings, σ = `sigma_t` ms).
    """

    names: tuple[str, ...]
    values: np.ndarray
    rel_std: np.ndarray
    fisher: np.ndarray
    jacobian: np.ndarray
    eigenvalues: np.ndarray
    eigenvectors: np.ndarray
    condition_number: float
    poorly_constrained: tuple[str, ...]
    rtol: float
    features: tuple[str, ...]
    sigma_v: float | None
    sigma_t: float | None

    def sloppiest(self) -> dict[str, float]:
        """The least-determined direction (eigenvector of the smallest eigenvalue), as
        `{name: component}`, largest components first."""
        vec = self.eigenvectors[:, -1]
        order = np.argsort(-np.abs(vec))
        return {self.names[i]: float(vec[i]) for i in order}

    def __repr__(self):
        noise = []
        if self.sigma_v is not None:
            noise.append(f"σ_V = {self.sigma_v:g} mV")
        if self.sigma_t is not None:
            noise.append(f"σ_t = {self.sigma_t:.3g} ms")
        width = max(len(n) for n in self.names)
        lines = [
            f"Identifiability from {' + '.join(self.features)} ({', '.join(noise)}); "
            f"flag: relative std > {self.rtol:g}",
        ]
        for name, v, s in zip(self.names, self.values, self.rel_std, strict=True):
            flag = "  poorly constrained" if name in self.poorly_constrained else ""
            lines.append(f"  {name:<{width}}  {v: .5g}  ± {100 * s:.3g} %{flag}")
        sl = self.sloppiest()
        top = ", ".join(f"{k} {c:+.2f}" for k, c in list(sl.items())[:3])
        lines.append(f"  condition number {self.condition_number:.3g}; sloppiest direction: {top}")
        return "\n".join(lines)


def _scalar_names(obj: Objective, leaves) -> list[str]:
    names = []
    for path, leaf in zip(obj.paths, leaves, strict=True):
        base = parameter_name(path)
        if np.ndim(leaf) == 0:
            names.append(base)
        else:
            names.extend(f"{base}[{', '.join(map(str, ix))}]" for ix in np.ndindex(np.shape(leaf)))
    return names


def _observed(objective: Objective) -> np.ndarray | None:
    """Flat indices of the voltage samples the loss compares: those with a positive
    weight in a `TraceMSE` term (its `window` and `weights`, e.g. a mask of the recorded
    compartments of a `Cell`); `None` (all) if the loss has no `TraceMSE` term or one
    without window and weights."""
    terms = (
        objective.loss.terms()
        if isinstance(objective.loss, WeightedSum)
        else ((1.0, objective.loss),)
    )
    masks = []
    target = objective.target
    for _, term in terms:
        if not isinstance(term, TraceMSE):
            continue
        if term.window is None and term.weights is None:
            return None
        w = _mask(target, term.window)
        if term.weights is not None:
            w = w * jnp.asarray(term.weights)
        masks.append(np.broadcast_to(np.asarray(w) > 0, target.v.shape))
    if not masks:
        return None
    return np.flatnonzero(np.any(np.stack(masks), axis=0))


def _rel_std(jac: np.ndarray) -> np.ndarray:
    """`√diag(F⁻¹)` of `F = JᵀJ` (∞ along a null direction)."""
    evals, evecs = np.linalg.eigh(jac.T @ jac)
    lam_max = max(float(evals.max()), np.finfo(float).tiny)
    singular = evals <= lam_max * len(evals) * np.finfo(float).eps * 10
    inv = np.where(singular, 0.0, 1.0 / np.where(singular, 1.0, evals))
    touches_null = (evecs[:, singular] ** 2).sum(axis=1) > 1e-12
    return np.where(touches_null, np.inf, np.sqrt((evecs**2) @ inv))


def _crossing_times(v: np.ndarray, t: np.ndarray, v_th: float) -> list[np.ndarray]:
    """Upward crossings of `v_th` per column, by linear interpolation between rows."""
    out = []
    for col in v.T:
        i = np.nonzero((col[1:] >= v_th) & (col[:-1] < v_th))[0]
        dt = t[1] - t[0]
        out.append(t[i] + dt * (v_th - col[i]) / (col[i + 1] - col[i]))
    return out


def identifiability(
    objective: Objective,
    params=None,
    *,
    rtol: float = DEFAULT_RTOL,
    sigma_v: float = DEFAULT_SIGMA_V,
    sigma_t: float | None = None,
    spike_threshold: float = 0.0,
    fd_step: float = 1e-2,
    refine: int = 1,
) -> Identifiability:
    """Which parameters of `objective` the data constrain, at `params` (default: the
    objective's initial values; pass `result.params` after a fit).

    The observed features follow the loss: the voltage rows when it reads the target's
    voltage (`TraceMSE`, `SoftDTW`, `WindowedFeatures`, …), the spike times when it
    reads spikes (`VanRossum`, `SpikeCount`, …); a plain-function loss: whatever the
    target holds (voltage if any, else spikes).

    - Voltage: `J = ∂V/∂θ` by forward-mode autodiff through the simulation (exact), noise
      `sigma_v` mV per recorded row (default 1 mV, white). Only the samples the loss
      compares count: where a `TraceMSE` term has a positive weight (its `window` and
      `weights`, e.g. the recorded compartments of a `Cell`).
    - Spike times: upward crossings of `spike_threshold` (mV) by the simulated voltage,
      interpolated linearly between rows; `J` by central differences with relative step
      `fd_step` (default 1 %): the autodiff tangents of spiking models are surrogate /
      detached at resets, not the derivative of the spike times. Noise `sigma_t` ms,
      default `dt_rows/√12` (the rounding of a spike train to the recording grid). For
      integrate-and-fire models, whose recorded voltage is reset within a step, choose a
      threshold on the upstroke (AdEx: `v_t + 5·delta_t`, −40 mV for Naud et al.'s
      patterns).
    - `refine`: for the spike times, simulate at `dt/refine` (inputs held over the
      sub-steps). A model with resets emits spikes on its time grid, so later spike
      times jump by whole steps; where a parameter moves spike times by less than `dt`
      (AdEx's `a`), only a finer grid measures it. Measured, adapting AdEx from its
      500 ms spike train: `rel_std(a)` 0.9 % at dt = 0.1 ms, 8 % at 0.01 ms, 16–19 % at
      0.001 ms and below (`refine=100`–`400`, `fd_step` 0.02–0.05). A warning says when
      the relative standard deviations from steps `fd_step` and `2·fd_step` differ by
      more than 20 % — the sign of this quantisation.
    - `rtol`: flag parameters whose relative standard deviation exceeds it (default
      0.05 = 5 %).

    Local: it linearises at `params`. Sloppy but not flat directions (condition numbers
    of 10⁶ and more are common in neuron models) are fine as long as `rel_std` is small;
    flags mean "the fit cannot tell": fix that parameter, or add a protocol that
    constrains it.
    """
    if not isinstance(objective, Objective):
        raise TypeError(
            "identifiability needs the Objective of a fit (result.objective, or "
            f"make_objective(...)), got {type(objective).__name__}."
        )
    if not rtol > 0:
        raise ValueError(f"rtol must be a relative standard deviation > 0, got {rtol!r}.")
    for name, x in (("sigma_v", sigma_v), ("sigma_t", sigma_t)):
        if x is not None and not x > 0:
            raise ValueError(f"{name} must be > 0, got {x!r}.")
    if isinstance(refine, bool) or not isinstance(refine, (int, np.integer)) or refine < 1:
        raise ValueError(f"refine must be an integer >= 1, got {refine!r}.")
    if not 0 < fd_step <= 0.25:
        raise ValueError(f"fd_step must be a relative step in (0, 0.25), got {fd_step!r}.")
    if params is None:
        params = objective.params0
    old = objective._where(objective.model)
    leaves = jtu.tree_leaves(params)
    if len(leaves) != len(old):
        raise ValueError(
            f"params has {len(leaves)} leaves but the objective fits {len(old)} "
            f"({', '.join(objective.names)})."
        )
    leaves = [
        jnp.asarray(p, dtype=o.dtype).reshape(jnp.shape(o))
        for p, o in zip(leaves, old, strict=True)
    ]
    shapes = [p.shape for p in leaves]
    sizes = [int(np.prod(s)) for s in shapes]
    dtype = jnp.result_type(*leaves)
    p0 = jnp.concatenate([p.ravel() for p in leaves]).astype(dtype)
    scale = jnp.where(p0 != 0, p0, 1.0)  # relative coordinates (absolute at p = 0)
    names = _scalar_names(objective, leaves)

    def model_params(theta):
        flat = p0 + scale * theta
        out, k = [], 0
        for shp, n, o in zip(shapes, sizes, old, strict=True):
            out.append(flat[k : k + n].reshape(shp).astype(o.dtype))
            k += n
        return jtu.tree_unflatten(objective.treedef, out)

    target = objective.target
    requires = set(loss_requires(objective.loss))
    if not requires:
        requires = {"v"} if target.v is not None else {"spikes"}
    use_v, use_t = "v" in requires, "spikes" in requires
    n_par = p0.size
    blocks, features = [], []
    theta0 = jnp.zeros(n_par, dtype)

    if use_v:
        observed = _observed(objective)

        def voltage(theta):
            v = objective.prediction(model_params(theta)).v.ravel()
            return v if observed is None else v[observed]

        jac = np.asarray(jax.jit(jax.jacfwd(voltage))(theta0), dtype=np.float64)
        blocks.append(jac / sigma_v)
        features.append("v")
    else:
        sigma_v = None

    if use_t:
        dt_rows = float(objective.target.dt)
        if sigma_t is None:
            sigma_t = dt_rows / np.sqrt(12.0)
        eye = jnp.eye(n_par, dtype=dtype)
        thetas = jnp.concatenate(
            [jnp.zeros((1, n_par), dtype), fd_step * eye, -fd_step * eye,
             2 * fd_step * eye, -2 * fd_step * eye]
        )  # fmt: skip
        fine_inputs = jtu.tree_map(lambda x: jnp.repeat(x, refine, axis=0), objective.inputs)
        fine_dt = objective.dt / refine

        def run(theta):
            sol = simulate(
                objective.with_params(model_params(theta)),
                fine_inputs,
                dt=fine_dt,
                solver=objective.solver,
                t0=objective.t0,
                saveat=SaveAt(),
                adjoint=objective.adjoint,
                throw=False,
            )
            return sol.v, sol.spikes

        v_all, spikes_all = jax.jit(jax.vmap(run))(thetas)
        v_all = np.asarray(v_all, dtype=np.float64).reshape(len(thetas), v_all.shape[1], -1)
        t = objective.t0 + fine_dt * np.arange(1, v_all.shape[1] + 1)
        times = [_crossing_times(v, t, spike_threshold) for v in v_all]
        n_fired = [len(c) for c in times[0]]
        if spikes_all is not None:
            fired = np.asarray(spikes_all[0], dtype=np.float64).reshape(v_all.shape[1], -1)
            fired = fired.sum(axis=0).round().astype(int)
            if list(fired) != n_fired:
                raise ValueError(
                    f"identifiability: the simulated voltage crosses {spike_threshold} mV "
                    f"upwards {n_fired} time(s) per sweep, but the model fired {list(fired)} "
                    "spike(s). Pass spike_threshold= a voltage on the spike upstroke that "
                    "the recorded voltage crosses once per spike (an integrate-and-fire "
                    "model resets within a step: e.g. v_t + 5·delta_t for AdEx), and a dt "
                    "fine enough to sample the upstroke (refine=)."
                )
        # spikes present in every perturbed run: a spike at the very end of the recording
        # may come and go; one missing elsewhere means the step is too large
        n_base = [min(len(run[c]) for run in times) for c in range(len(times[0]))]
        for c, (n0, nb) in enumerate(zip(n_fired, n_base, strict=True)):
            if nb == n0:
                continue
            t_end = objective.t0 + fine_dt * v_all.shape[1]
            lost = times[0][c][nb:]
            isi = np.diff(times[0][c]).min() if n0 > 1 else t_end
            if np.any(lost < t_end - isi):
                raise ValueError(
                    f"identifiability: a {2 * fd_step:.0%} change of a parameter changes the "
                    f"number of spikes (sweep {c}) before the end of the recording, so spike "
                    "times have no derivative here; pass a smaller fd_step."
                )
        times = [[c[:nb] for c, nb in zip(run, n_base, strict=True)] for run in times]

        def column(j, k):  # central difference at step k·fd_step
            up, down = times[1 + (2 * k - 2) * n_par + j], times[1 + (2 * k - 1) * n_par + j]
            return np.concatenate(
                [(u - d) / (2 * k * fd_step) for u, d in zip(up, down, strict=True)]
            )

        cols = [column(j, 1) for j in range(n_par)]
        cols2 = [column(j, 2) for j in range(n_par)]
        spike_jacobians = (np.stack(cols, axis=1), np.stack(cols2, axis=1))
        jac_t = spike_jacobians[0]
        blocks.append(jac_t / sigma_t)
        features.append("spike times")
    else:
        sigma_t = None

    jac = np.concatenate(blocks, axis=0)
    fisher = jac.T @ jac
    evals, evecs = np.linalg.eigh(fisher)
    order = np.argsort(evals)[::-1]
    evals, evecs = evals[order], evecs[:, order]
    lam_max = max(float(evals[0]), np.finfo(float).tiny)
    singular = evals <= lam_max * n_par * np.finfo(float).eps * 10
    rel_std = _rel_std(jac)
    cond = float(evals[0] / evals[-1]) if not singular.any() else float("inf")
    if use_t:  # the same with the spike-time derivatives at twice the step
        other = [b for b in blocks[:-1]] + [spike_jacobians[1] / sigma_t]
        rel2 = _rel_std(np.concatenate(other, axis=0))
        differ = np.abs(np.log(rel2 / rel_std)) > np.log(1.2)
        differ &= np.isfinite(rel_std) & np.isfinite(rel2)
        if np.any(differ):
            bad = [n for n, d in zip(names, differ, strict=True) if d]
            warnings.warn(
                f"identifiability: the relative standard deviations of {', '.join(bad)} "
                f"change by more than 20 % between finite-difference steps {fd_step:g} and "
                f"{2 * fd_step:g}: spike times are quantised by the time step (dt = "
                f"{fine_dt:g} ms) or not linear over the step. Pass refine= (e.g. 100) "
                "and/or a larger fd_step.",
                stacklevel=2,
            )
    flagged = tuple(n for n, s in zip(names, rel_std, strict=True) if not s <= rtol)
    return Identifiability(
        names=tuple(names),
        values=np.asarray(p0, dtype=np.float64),
        rel_std=rel_std,
        fisher=fisher,
        jacobian=jac,
        eigenvalues=evals,
        eigenvectors=evecs,
        condition_number=cond,
        poorly_constrained=flagged,
        rtol=float(rtol),
        features=tuple(features),
        sigma_v=sigma_v,
        sigma_t=None if sigma_t is None else float(sigma_t),
    )
