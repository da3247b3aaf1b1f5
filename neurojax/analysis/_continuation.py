"""Pseudo-arclength continuation of equilibria, with fold and Hopf detection and location."""

from __future__ import annotations

import dataclasses
import itertools
import warnings
from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import numpy as np

from .._errors import check_instance
from .._model import REAL, AbstractModel, Domain, parameter_fields
from .._progress import AbstractProgressMeter, NoProgress
from ._fixed_points import NoEquilibriumError, as_flat, eigen
from ._newton import f64, jacobian_batch, newton_batch, solve_rows
from ._options import BifurcationKind
from ._plot import plot_bifurcation_diagram
from ._system import System, check_real, float64, make_system, parameter_name, state_to_numpy

_CORRECTOR_STEPS = 12


@dataclasses.dataclass(frozen=True, repr=False)
class BifurcationPoint:
    """A codimension-one bifurcation of equilibria, located on a branch.

    - `kind`: a `BifurcationKind`: `FOLD` (saddle-node: a real eigenvalue crosses 0 and
      the branch turns back), `HOPF` (a complex pair crosses the imaginary axis), or
      `BRANCH_POINT` (a real eigenvalue crosses 0 while the branch goes on:
      transcritical/pitchfork); a `StrEnum`, so `kind == "hopf"` holds too.
    - `parameter`: where (µA/cm² for the current), to ~1e-10 relative.
    - `state`, `v`: the equilibrium there (model's state NamedTuple; mV).
    - `eigenvalues`: of the Jacobian there (1/ms).
    - `omega`: Hopf only: the angular frequency `ω` (rad/ms) of the critical pair, so
      small oscillations near the Hopf point have period `2π/ω` ms.
    - `lyapunov`: Hopf only: the first Lyapunov coefficient `l₁` (Kuznetsov 2004, eq. 3.20,
      with `⟨q, q⟩ = ⟨p, q⟩ = 1`): `l₁ < 0` a supercritical Hopf (a small stable cycle is born),
      `l₁ > 0` subcritical (an unstable cycle: hard onset, bistability and hysteresis).
    """

    kind: BifurcationKind
    parameter: float
    state: Any
    v: float
    eigenvalues: np.ndarray
    omega: float | None = None
    lyapunov: float | None = None

    def __post_init__(self):
        try:
            kind = BifurcationKind(self.kind)
        except ValueError:
            members = ", ".join(f"BifurcationKind.{m.name}" for m in BifurcationKind)
            raise ValueError(
                f"BifurcationPoint kind must be one of {members}, got {self.kind!r}."
            ) from None
        object.__setattr__(self, "kind", kind)

    @property
    def criticality(self) -> str | None:
        """`"subcritical"` or `"supercritical"` for a Hopf point (sign of `lyapunov`)."""
        if self.lyapunov is None or not np.isfinite(self.lyapunov):
            return None
        return "subcritical" if self.lyapunov > 0 else "supercritical"

    @property
    def period(self) -> float | None:
        """Hopf only: `2π/ω`, the period (ms) of the oscillation born there."""
        return None if self.omega is None else 2 * np.pi / self.omega

    def __repr__(self):
        extra = ""
        if self.kind == "hopf":
            extra = f", omega={self.omega:.5g}, {self.criticality}"
        return (
            f"BifurcationPoint({self.kind!r}, parameter={self.parameter:.10g}, "
            f"v={self.v:.6g}{extra})"
        )


class HasBifurcationPoints:
    """`folds`, `hopfs` (the points of each kind among `self.points`) and `plot`."""

    points: tuple

    @property
    def folds(self) -> list[BifurcationPoint]:
        return [b for b in self.points if b.kind == "fold"]

    @property
    def hopfs(self) -> list[BifurcationPoint]:
        return [b for b in self.points if b.kind == "hopf"]

    def _points_text(self) -> str:
        return ", ".join(f"{b.kind} at {b.parameter:.6g}" for b in self.points)

    def plot(self, ax=None, **kwargs):
        """Draw it with matplotlib (see `neurojax.analysis.plot_bifurcation_diagram`)."""
        return plot_bifurcation_diagram(self, ax=ax, **kwargs)


@dataclasses.dataclass(frozen=True, repr=False)
class Branch(HasBifurcationPoints):
    """A branch of equilibria `x(p)` traced by pseudo-arclength continuation.

    - `parameter`: the parameter values along the branch, shape `(k,)` (not monotone past
      a fold).
    - `x`: the dynamical variables `variables` along it, `(k, n)`; `v` the voltage column.
    - `eigenvalues`: `(k, n)`, each row sorted by decreasing real part.
    - `stable`: `(k,)`, linear stability of each equilibrium.
    - `points`: the `BifurcationPoint`s on it, in order along the branch.
    - `parameter_name`: `"current"` or the selected field's name (`"g_k"`).
    - `end`: why the branch ends short of the interval asked for, where that is the
      parameter's physical domain (`"g_k must be >= 0: ..."`; a warning says it too),
      else `""` (other early ends — a reset, `min_step`, `max_points` — warn).
    """

    parameter: np.ndarray
    x: np.ndarray
    eigenvalues: np.ndarray
    stable: np.ndarray
    points: tuple
    variables: tuple[str, ...]
    v_index: int
    parameter_name: str
    end: str = ""

    @property
    def v(self) -> np.ndarray:
        return self.x[:, self.v_index]

    def __getitem__(self, name: str) -> np.ndarray:
        """A variable along the branch by name: `branch["n"]`."""
        if name not in self.variables:
            raise KeyError(f"no variable {name!r}; the branch has {self.variables}.")
        return self.x[:, self.variables.index(name)]

    def _diagram(self):
        """What `plot_bifurcation_diagram` draws: `(branches, points, cycles, name)`."""
        return [self], self.points, None, self.parameter_name

    def __repr__(self):
        pts = self._points_text()
        return (
            f"Branch({len(self.parameter)} points, {self.parameter_name} in "
            f"[{self.parameter.min():.4g}, {self.parameter.max():.4g}], [{pts}])"
        )


# ---------------------------------------------------------------------------------------
# z = (x, p) ∈ R^{n+1}; every Newton solve and tangent through `solve_rows` (one compiled
# program for all the equilibrium work)


def _correct(system: System, w0, d, c, t_prev=None):
    """Newton on `[f(w); d·w − c] = 0` from `w0`: the branch point on the hyperplane
    `d·w = c`. Returns the `Rows` of one row (solution, converged, iterations, tangent
    there oriented along `t_prev`, `[f_x | f_p]`, reset test)."""
    return solve_rows(
        system, w0[None], d=d, c=c, t_prev=t_prev, rtol=1e-11, max_steps=_CORRECTOR_STEPS
    )


def _arclength_step(system: System, z, t, h):
    """Predictor `z + h·t`, corrector on the hyperplane through it orthogonal to `t`.
    Returns `(w, tangent, converged, iterations, reset)`."""
    pred = z + h * t
    r = _correct(system, pred, t, t @ pred, t_prev=t)
    t_new = r.tangent[0]
    ok = bool(r.ok[0]) and np.all(np.isfinite(t_new))
    return r.z[0], t_new, ok, int(r.steps[0]), bool(r.reset[0])


def _resets(system: System, z) -> bool:
    """Whether the model's `event_step` moves the equilibrium `z = (x, p)` (beyond an
    integrate-and-fire threshold): then it is no equilibrium of the model."""
    return bool(solve_rows(system, np.asarray(z)[None], max_steps=0).reset[0])


def _reset_edge(system: System, za, zb):
    """The last equilibrium, along the chord from `za` (kept by the model) to `zb` (reset
    by it), that the reset keeps: bisection on the reset test, each trial point corrected
    onto the branch."""
    a, b, best = 0.0, 1.0, za
    for _ in range(40):
        m = 0.5 * (a + b)
        zm, ok = _chord_point(system, za, zb, m)
        if not ok:
            break
        if _resets(system, zm):
            b = m
        else:
            a, best = m, zm
    return best


def _before_reset(system: System, z, w):
    """`w`, or, where the model's reset removes the equilibrium `w`, the last point before
    it along the step from `z` (with a warning: the branch ends there)."""
    if not _resets(system, w):
        return w
    edge = _reset_edge(system, z, w)
    warnings.warn(
        f"the branch of {system.model_name} ends at parameter {edge[-1]:.6g}, "
        f"V = {edge[system.v_index]:.6g}: beyond it the model's threshold and reset "
        "(event_step) remove the equilibrium (the neuron fires).",
        stacklevel=4,
    )
    return edge


def _initial_tangent(system: System, z):
    d_f = solve_rows(system, np.asarray(z)[None], max_steps=0).jac[0]
    return np.linalg.svd(d_f)[2][-1]


def _chord_point(system: System, za, zb, theta):
    """The branch point on the hyperplane orthogonal to the chord `za → zb` through
    `za + θ(zb − za)`."""
    d = (zb - za) / np.linalg.norm(zb - za)
    z0 = za + theta * (zb - za)
    r = _correct(system, z0, d, d @ z0)
    return r.z[0], bool(r.ok[0])


def _at_parameter(system: System, z0, p):
    """The branch point with parameter `p`, from `z0` (natural-parameter Newton)."""
    d = np.zeros_like(z0)
    d[-1] = 1.0
    z0 = z0.copy()
    z0[-1] = p
    r = _correct(system, z0, d, p)
    return r.z[0], bool(r.ok[0])


@eqx.filter_jit
def _derivatives(system: System, x, p, us2, us3):
    """`D²f(x)[u, v]` for the 8 pairs `us2` `(8, 2, n)` and `D³f(x)[u, v, w]` for the 8
    triples `us3` `(8, 3, n)`, by nested forward-mode JVPs."""

    def d(fun, u):
        return lambda y: jax.jvp(fun, (y,), (u,))[1]

    def form(us):
        fun = lambda y: system.f(y, p)  # noqa: E731
        for j in range(us.shape[0]):
            fun = d(fun, us[j])
        return fun(x)

    return jax.vmap(form)(us2), jax.vmap(form)(us3)


def _real_parts(args):
    """The real vectors and coefficients `i^k` expanding a multilinear form of complex
    vectors `args` into forms of real ones."""
    combos = list(itertools.product((0, 1), repeat=len(args)))
    us = np.array([[(a.real, a.imag)[b] for a, b in zip(args, c, strict=True)] for c in combos])
    return us, np.array([1j ** sum(c) for c in combos])


def _complex_forms(system, x, p, pairs, triple):
    """`D²f(x)` at two complex pairs and `D³f(x)` at one complex triple."""
    u2 = [_real_parts(pair) for pair in pairs]
    u3, c3 = _real_parts(triple)
    b, c = _derivatives(system, f64(x), f64(p), f64(np.concatenate([u2[0][0], u2[1][0]])), f64(u3))
    b, c = np.asarray(b), np.asarray(c)
    return u2[0][1] @ b[:4], u2[1][1] @ b[4:], c3 @ c


def first_lyapunov(system: System, x, p) -> tuple[float, float]:
    """`(ω, l₁)` at a Hopf point `x` (Kuznetsov 2004, *Elements of Applied Bifurcation
    Theory*, §3.5, eq. 3.20), with `⟨q, q⟩ = 1` and `⟨p, q⟩ = 1`:
    `l₁ = Re[⟨p, C(q,q,q̄)⟩ − 2⟨p, B(q, A⁻¹B(q,q̄))⟩ + ⟨p, B(q̄, (2iω − A)⁻¹B(q,q))⟩]/(2ω)`."""
    x = np.asarray(x, dtype=np.float64)
    a = jacobian_batch(system, x[None], [p])[0]
    ev, vecs = np.linalg.eig(a)
    pos = np.flatnonzero(ev.imag > 0)
    if len(pos) == 0:
        return float("nan"), float("nan")
    i = pos[np.argmin(np.abs(ev[pos].real))]
    omega = float(ev[i].imag)
    q = vecs[:, i] / np.linalg.norm(vecs[:, i])
    evt, vecst = np.linalg.eig(a.T)
    pv = vecst[:, np.argmin(np.abs(evt - np.conj(ev[i])))]
    pv = pv / np.conj(np.vdot(pv, q))  # ⟨p, q⟩ = p̄ᵀq = 1
    n = len(x)
    b_qqbar, b_qq, c = _complex_forms(system, x, p, [(q, q.conj()), (q, q)], (q, q, q.conj()))
    s1 = np.linalg.solve(a, b_qqbar)
    s2 = np.linalg.solve(2j * omega * np.eye(n) - a, b_qq)
    b1, b2, _ = _complex_forms(system, x, p, [(q, s1), (q.conj(), s2)], (q, q, q.conj()))
    val = np.vdot(pv, c) - 2 * np.vdot(pv, b1) + np.vdot(pv, b2)
    return omega, float(val.real / (2 * omega))


# ---------------------------------------------------------------------------------------


def _hopf_test(ev: np.ndarray) -> float:
    """Largest real part among the complex eigenvalues (NaN if all are real)."""
    crit = 1e-9 * max(1.0, float(np.max(np.abs(ev))))
    cplx = ev[np.abs(ev.imag) > crit]
    return float(cplx.real.max()) if len(cplx) else float("nan")


def _fold_test(jac: np.ndarray) -> float:
    return float(np.linalg.det(jac))


def _test_at(system: System, z, which: str) -> float:
    jac = jacobian_batch(system, z[None, :-1], z[-1:])[0]
    return _fold_test(jac) if which == "fold" else _hopf_test(eigen(jac))


def _locate(system: System, za, zb, which: str, fa: float):
    """Bisection, along the chord `za → zb` (each trial point corrected onto the branch),
    on the sign of the test function: `det J` for folds, the real part of the critical
    complex pair for Hopf points. Returns the located `z`, or `None`."""
    a, b = 0.0, 1.0
    for _ in range(60):
        m = 0.5 * (a + b)
        zm, ok = _chord_point(system, za, zb, m)
        if not bool(ok):
            return None
        fm = _test_at(system, np.asarray(zm), which)
        if not np.isfinite(fm):
            return None
        if fm == 0.0:
            a = b = m
            break
        if np.sign(fm) == np.sign(fa):
            a, fa = m, fm
        else:
            b = m
        if b - a < 1e-14:
            break
    z, ok = _chord_point(system, za, zb, 0.5 * (a + b))
    return np.asarray(z) if bool(ok) else None


def analyse_branch(system: System, zs: np.ndarray, ts: np.ndarray, name: str) -> Branch:
    """Eigenvalues and stability along a traced branch; detection and location of folds,
    branch points and Hopf points between consecutive points."""
    zs = np.asarray(zs)
    jacs = jacobian_batch(system, zs[:, :-1], zs[:, -1])
    evs = np.array([eigen(j) for j in jacs])
    dets = np.array([_fold_test(j) for j in jacs])
    hopf = np.array([_hopf_test(e) for e in evs])
    points = []
    for i in range(len(zs) - 1):
        za, zb = zs[i], zs[i + 1]
        if np.sign(dets[i]) * np.sign(dets[i + 1]) < 0:
            z = _locate(system, za, zb, "fold", dets[i])
            if z is not None:
                turned = np.sign(ts[i][-1]) * np.sign(ts[i + 1][-1]) < 0
                points.append(_point(system, "fold" if turned else "branch point", z))
        if np.isfinite(hopf[i]) and np.isfinite(hopf[i + 1]) and hopf[i] * hopf[i + 1] < 0:
            z = _locate(system, za, zb, "hopf", hopf[i])
            if z is not None:
                points.append(_point(system, "hopf", z))
    return Branch(
        parameter=zs[:, -1].copy(),
        x=zs[:, :-1].copy(),
        eigenvalues=evs,
        stable=np.all(evs.real < 0, axis=1),
        points=tuple(points),
        variables=system.variables,
        v_index=system.v_index,
        parameter_name=name,
    )


def _point(system: System, kind: str, z) -> BifurcationPoint:
    x, p = z[:-1], float(z[-1])
    jac = jacobian_batch(system, x[None], [p])[0]
    omega = lyap = None
    if kind == "hopf":
        omega, lyap = first_lyapunov(system, x, p)
    return BifurcationPoint(
        kind=kind,
        parameter=p,
        state=state_to_numpy(system, x),
        v=float(x[system.v_index]),
        eigenvalues=eigen(jac),
        omega=omega,
        lyapunov=lyap,
    )


def trace(
    system: System,
    x0: np.ndarray,
    p0: float,
    bounds: tuple[float, float],
    direction: float,
    *,
    max_step: float,
    min_step: float,
    max_points: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Pseudo-arclength continuation from the equilibrium `(x0, p0)` in the direction of
    increasing (`direction > 0`) or decreasing parameter, until the parameter leaves
    `bounds`, the branch closes on itself, or `max_points`. Returns the points `z = (x, p)`
    and their unit tangents.

    Predictor `z + h·t`; corrector: Newton on `f(z) = 0`, `t·(z − z_pred) = 0` (Keller
    1977). The step `h` (Euclidean in `(x, p)`, in the model's units) grows ×1.5 after an
    easy step (≤ 3 Newton iterations, the tangent turning < 8°) and halves after a failed
    one (no convergence, a turn > 25°, or a jump longer than 2h: the guards against
    hopping onto another branch).

    An equilibrium that the model's `event_step` would move (beyond an integrate-and-fire
    threshold) is no equilibrium of the model: the branch ends, with a warning, at the
    last point the reset keeps (located to ~1e-12 along the last step).
    """
    lo, hi = bounds
    z = np.append(np.asarray(x0, dtype=np.float64), p0)
    t = _initial_tangent(system, z)
    if t[-1] * direction < 0 or (t[-1] == 0 and direction < 0):
        t = -t
    zs, ts = [z], [t]
    h = max_step / 8
    while len(zs) < max_points:
        w, t_new, ok, k, reset = _arclength_step(system, z, t, h)
        good = (
            bool(ok)
            and np.dot(t, t_new) > 0.9
            and np.linalg.norm(w - z) < 2.0 * h
            and np.all(np.abs(w) < 1e8)
        )
        if not good:
            h /= 2
            if h < min_step:
                warnings.warn(
                    f"continuation of {system.model_name} stopped at parameter {z[-1]:.6g}: "
                    "the step fell below min_step (a singular point, or the branch ran away).",
                    stacklevel=3,
                )
                break
            continue
        if not lo <= w[-1] <= hi:
            edge = hi if w[-1] > hi else lo
            theta = (edge - z[-1]) / (w[-1] - z[-1])
            zb, ok = _at_parameter(system, z + theta * (w - z), edge)
            if bool(ok):
                zs.append(_before_reset(system, z, np.asarray(zb)))
                ts.append(t_new)
            break
        if reset:
            zs.append(_before_reset(system, z, w))
            ts.append(t_new)
            break
        zs.append(w)
        ts.append(t_new)
        if len(zs) > 10 and np.linalg.norm(w - zs[0]) < h and np.dot(t_new, ts[0]) > 0.9:
            break  # a closed branch (isola) came round
        z, t = w, t_new
        if int(k) <= 3 and np.dot(t, ts[-2]) > 0.99:
            h = min(1.5 * h, max_step)
    else:
        warnings.warn(
            f"continuation of {system.model_name} stopped at parameter {z[-1]:.6g} after "
            f"max_points={max_points} points, before leaving the interval: raise max_points "
            "or max_step.",
            stacklevel=3,
        )
    return np.array(zs), np.array(ts)


def check_interval(start, stop, max_step, min_step, caller: str = "continuation"):
    """`(start, stop, max_step, min_step)` checked, with the default steps filled in."""
    for name, value in (("start", start), ("stop", stop)):
        check_real(caller, name, value)  # "0" was parsed, True read as 1
    for name, value in (("max_step", max_step), ("min_step", min_step)):
        if value is not None:
            check_real(caller, name, value)
            if not np.isfinite(value):  # max_step=inf ran without end
                raise ValueError(f"{caller}: {name} must be a finite step > 0, got {value!r}.")
    start, stop = float(start), float(stop)
    if not (np.isfinite(start) and np.isfinite(stop)) or start == stop:
        raise ValueError(
            f"start={start} and stop={stop} must be two different finite parameter values."
        )
    span = abs(stop - start)
    # the step is Euclidean in (x, p): a narrow parameter range (a one-compartment Cell's
    # nA) must not shrink the voltage steps with it (thousands of points past max_points)
    max_step = max(span, 1.0) / 50 if max_step is None else float(max_step)
    min_step = 1e-9 * max(span, 1.0) if min_step is None else float(min_step)
    if not (max_step > 0 and min_step > 0 and min_step < max_step):
        raise ValueError(
            f"need 0 < min_step < max_step, got min_step={min_step}, max_step={max_step}."
        )
    return start, stop, max_step, min_step


def check_max_points(caller: str, max_points) -> int:
    """`max_points` as an int ≥ 2 (a branch needs two points), or a `ValueError`."""
    if (
        isinstance(max_points, (bool, np.bool_, str, bytes))
        or np.ndim(max_points) != 0
        or np.asarray(max_points).dtype.kind not in "iuf"
        or not np.isfinite(max_points)
        or int(max_points) != max_points
        or max_points < 2
    ):  # "a" and NaN failed in int() without naming max_points
        raise ValueError(
            f"{caller}: max_points must be an int >= 2 (the points computed along the branch), "
            f"got {max_points!r}."
        )
    return int(max_points)


def parameter_domain(model: AbstractModel, parameter: Callable | None) -> Domain:
    """The declared physical domain (`neurojax.parameter(..., domain)`) of the parameter
    that `parameter` selects in `model`; unbounded for the injected current (`None`) or a
    leaf declared without one."""
    if parameter is None:
        return REAL
    leaf = parameter(model)
    for _, value, field in parameter_fields(model):
        if value is leaf:
            return field.metadata["domain"]
    return REAL


def _domain_text(model, name: str, domain: Domain) -> str:
    why = f" ({domain.why})" if domain.why else ""
    return f"{type(model).__name__}.{name} must be {domain.describe()}{why}"


def _domain_edge(domain: Domain, side: int, min_step: float) -> float:
    """The last parameter value continued to at the domain's lower (`side < 0`) or upper
    boundary: the boundary itself where it is closed, `min_step` (the continuation's
    resolution) inside it where it is open (a model there is refused: `tau = 0`)."""
    if side < 0:
        return domain.lower if domain.lower_closed else domain.lower + min_step
    return domain.upper if domain.upper_closed else domain.upper - min_step


def clip_to_domain(model, parameter, start, stop, min_step, caller, *, both_ends=False):
    """`(start, stop, note)`: the interval cut at the parameter's physical domain, and
    what to say where it was (`""` if not). A `start` outside the domain is refused
    (`continuation` follows the branch from there), unless `both_ends` (the bifurcation
    diagram, which starts from both ends: then one end may be cut, not both).

    Without it `continuation(hh, 36, -10, parameter=lambda m: m.g_k)` went on to
    negative g_k and reported folds there."""
    domain = parameter_domain(model, parameter)
    name = parameter_name(model, parameter)
    inside = lambda p: bool(domain.contains(p))  # noqa: E731
    if inside(start) and inside(stop):
        return start, stop, ""
    what = _domain_text(model, name, domain)
    got = f"(got start={start:g}, stop={stop:g})"
    if not (inside(start) or inside(stop)):
        raise ValueError(
            f"{caller}: start and stop are both outside the physical domain of the "
            f"parameter: {what} {got}. Give an interval inside the domain."
        )
    if not inside(start) and not both_ends:
        raise ValueError(
            f"{caller}: start is outside the physical domain of the parameter: {what} "
            f"{got}. Start inside the domain: the branch is followed from start."
        )
    # one end outside: cut it at the boundary on its side
    cut_stop = inside(start)
    out, other = (stop, start) if cut_stop else (start, stop)
    edge = _domain_edge(domain, -1 if out < other else 1, min_step)
    if (edge - other) * (out - other) <= 0:
        raise ValueError(
            f"{caller}: {what}, and {name}={other:g} lies within min_step={min_step:g} of that "
            "boundary: no interval is left to follow. Start further inside the domain."
        )
    note = (
        f"{what}: the branch ends at the domain's boundary, {name} = {edge:g}, not at "
        f"{'stop' if cut_stop else 'start'}={out:g}"
    )
    return (start, edge, note) if cut_stop else (edge, stop, note)


def mark_domain_end(branch: Branch, edge_note, min_step, *, warn: bool = True) -> Branch:
    """`branch` with `end` set (and a warning if `warn`) where it reaches the cut end of
    the interval (`edge_note = (edge, note)` from `clip_to_domain`; `None`: nothing cut)."""
    if edge_note is None:
        return branch
    edge, note = edge_note
    p = branch.parameter
    if not np.any(np.abs(p[[0, -1]] - edge) <= min_step):
        return branch  # turned back (a fold) before the boundary
    if warn:
        warnings.warn(note + ".", stacklevel=3)
    return dataclasses.replace(branch, end=note)


def continuation(
    model: AbstractModel,
    start: float,
    stop: float,
    *,
    parameter: Callable | None = None,
    current: float = 0.0,
    state0=None,
    max_step: float | None = None,
    min_step: float | None = None,
    max_points: int = 2000,
    progress_meter: AbstractProgressMeter = NoProgress(),
) -> Branch:
    """Follow a branch of equilibria of `model` as a parameter goes from `start` towards
    `stop`, around folds, detecting and locating its bifurcations.

    **Arguments**

    - `model`: a neuron with scalar parameters, or a `neurojax.cable.Cell` with one
      compartment (its current in nA, as NEURON's `IClamp.amp`; `analysis.OneCompartment`).
    - `start`, `stop`: the parameter interval; the branch is followed from `start` in the
      direction of `stop` and ends where it leaves `[min, max]` of the two (after any folds).
      A parameter declared with a physical domain (`g_k >= 0`, `c_m > 0`) is followed
      only inside it: a `start` outside is refused, a `stop` outside ends the branch at
      the boundary (a closed one exactly, an open one `min_step` inside), with a warning
      and the reason in `Branch.end`.
    - `parameter`: `None` to vary the injected current (µA/cm² or nA), or a selector of one
      scalar parameter, the equinox way: `lambda m: m.g_k`.
    - `current`: the injected current when another parameter is varied.
    - `state0`: the equilibrium (or a guess: a state NamedTuple, a `FixedPoint`, or an
      array of the dynamical variables) at `start` to follow; default: Newton from
      `model.init_state(())`.
    - `max_step`, `min_step`: bounds on the arclength step in `(x, p)` (default
      `max(|stop − start|, 1)/50`, and 1e-9 of `max(|stop − start|, 1)`).
    - `max_points`: a cap on the points computed (≥ 2); a branch cut short by it warns.
    - `progress_meter`: as for `simulate`: `NoProgress()` (default) or `TextProgress()`.

    **Method.** Pseudo-arclength continuation (Keller 1977) in float64 with autodiff
    Jacobians. Between consecutive points a sign change of `det J` flags a fold (or, if the
    branch does not turn, a branch point), a sign change of the real part of the leading
    complex eigenvalue pair a Hopf point; each is located by bisection along the chord,
    every trial point corrected onto the branch, to ~1e-12 in the parameter. Hopf points
    carry their first Lyapunov coefficient (sub- or supercritical).

    Not traceable (it loops in Python and returns numpy arrays): call it from Python, not
    inside `jax.jit`.

    **Returns** a `Branch`.
    """
    start, stop, max_step, min_step = check_interval(start, stop, max_step, min_step)
    check_max_points("continuation", max_points)
    check_instance(
        "continuation(progress_meter=...)",
        progress_meter,
        AbstractProgressMeter,
        "neurojax.TextProgress()",
    )
    name = parameter_name(model, parameter)
    start, stop, note = clip_to_domain(model, parameter, start, stop, min_step, "continuation")
    with float64():
        system = make_system(model, current=current, parameter=parameter, caller="continuation")
        x0 = np.asarray(system.initial()) if state0 is None else as_flat(system, state0)
        x, ok, reset = newton_batch(system, x0[None], start)
        if not ok[0]:
            raise NoEquilibriumError(
                f"no equilibrium of {system.model_name} near the given state at {name}={start}: "
                "pass state0=, e.g. a FixedPoint from fixed_points()."
            )
        if reset[0]:
            raise NoEquilibriumError(
                f"{system.model_name} has no equilibrium at {name}={start:g}: the vector "
                f"field vanishes at V = {x[0][system.v_index]:.6g}, where the model's "
                "threshold and reset (event_step) move the state at once (the neuron fires). "
                "Start the continuation where the neuron rests (e.g. below rheobase: "
                "fixed_points(model, current) lists the equilibria), or use fi_curve or "
                "limit_cycles for the firing."
            )
        zs, ts = trace(
            system,
            np.asarray(x[0]),
            start,
            (min(start, stop), max(start, stop)),
            np.sign(stop - start),
            max_step=max_step,
            min_step=min_step,
            max_points=int(max_points),
        )
        progress_meter.write(
            f"continuation: {len(zs)} equilibria traced from {name} = {start:g}; locating "
            "bifurcations"
        )
        branch = analyse_branch(system, zs, ts, name)
        branch = mark_domain_end(branch, (stop, note) if note else None, min_step)
        progress_meter.write(
            f"continuation: done, {len(branch.parameter)} points, {len(branch.points)} "
            "bifurcation(s)"
        )
        return branch
