"""Linearly implicit (Rosenbrock-type) solvers for stiff and coupled models."""

from __future__ import annotations

import math
from typing import Any, ClassVar, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.tree_util as jtu
import numpy as np
from jax.flatten_util import ravel_pytree
from jaxtyping import Array

from .._gather import StaticMap, apply
from .._model import Coupled, Tree
from ._base import AbstractSolver
from ._linear_solve import AbstractLinearSolver, DenseSolve, TreeOperator, TreeSolve


def _combine(*terms):
    """`Σ cᵢ·xᵢ` over `(c, x)` pairs of pytrees of the same structure."""
    return jtu.tree_map(
        lambda *xs: sum(c * x for c, x in zip(terms[::2], xs, strict=True)), *terms[1::2]
    )


class AbstractImplicitSolver(AbstractSolver):
    """Linearly implicit one-step methods for *coupled* models: each stage solves a linear
    system with `W = I − γ·dt·J` — no Newton iterations, one factorisation per step.

    - `Coupled` models: `J` is the exact Jacobian (`jax.jacfwd` of the flattened state),
      solved by `linear_solver` (default `DenseSolve()`): small coupled models (a few
      compartments, rate networks up to ~10³ units). Stiff *decaying* coupling is
      integrated stably at any `dt`. A mode that *grows* faster than `1/(γ·dt)` (strong
      positive feedback) makes `W` singular or indefinite and the step meaningless: that
      is detected (`det W ≤ 0`) and reported, naming a smaller `dt`.
    - `Tree` models (cable cells): the staggered step of `_tree_step` — the voltages
      implicit through the model's `TreeOperator` (`linear_solver`, default
      `TreeSolve()`, O(N)), then the other states by the model's own rule at the new
      voltages (`TreeLinearisation` says what the model provides).

    Point neurons (`Elementwise`) are refused: their exact Jacobian has a growing mode on
    every upstroke (regenerative Na⁺, the exponential term of AdEx), where `W` went
    near-singular and flipped the step (AdEx reached −8e5 mV, HH at dt = 0.1 lost its
    spikes); a diagonal `J` avoided that but lost the accuracy the implicit schemes are for.
    The exponential solvers are the schemes for point neurons.
    """

    linear_solver: AbstractLinearSolver | None = None

    def _tree_step(self, model, t, y, inputs, dt):
        """One staggered step of a `Tree` model (NEURON's order): linearise the voltage
        equations at the step's start with every other state frozen, advance the
        voltages by this solver's implicit scheme (`_tree_voltages`, tree solves), then
        the other states over the step at the new voltages (`model.advance_gates`: the
        gates' exponential rule, NEURON's `cnexp` — half a step behind the voltages,
        which keeps the pair second order)."""
        if not callable(getattr(model, "linearise", None)):
            raise TypeError(
                f"{type(model).__name__} declares the Tree structure but has no `linearise` "
                "method: a Tree model gives `linearise(t, y, inputs, dt)` -> "
                "neurojax.solvers.TreeLinearisation (its voltage equations, a TreeOperator), "
                "and, if its state holds more than the voltages, `advance_gates(t, "
                "linearisation, v, dt)` -> its state at t + dt."
            )
        advance = getattr(model, "advance_gates", None)
        if advance is None and not eqx.is_array(y):
            raise TypeError(
                f"{type(model).__name__}'s state is a {type(y).__name__}, not the voltage "
                "array alone: give the model an `advance_gates(t, linearisation, v, dt)` "
                "method returning its state at t + dt."
            )
        lin = model.linearise(t, y, inputs, dt)
        if not isinstance(lin, TreeLinearisation):
            raise TypeError(
                f"{type(model).__name__}.linearise returned {type(lin).__name__}, not a "
                "neurojax.solvers.TreeLinearisation."
            )
        solver = TreeSolve() if self.linear_solver is None else self.linear_solver
        v = self._tree_voltages(lin, dt, solver)
        if isinstance(v, tuple):  # TRBDF2 at voltage-clamped nodes: the gates' own voltages
            v, v_gates = v
            return v if advance is None else advance(t, lin, v, dt, v_gates=v_gates)
        return v if advance is None else advance(t, lin, v, dt)

    def _tree_voltages(self, lin, dt, solver):
        raise NotImplementedError(f"{type(self).__name__} has no tree scheme.")

    def _system(self, model, t, y, inputs, gamma, dt):
        """`(x0, f(x0), f, solve, unflatten)`: the flattened state, the vector field
        there, and `solve(r) = W⁻¹ r` with `W = I − γ·dt·J`."""
        x0, unflatten = ravel_pytree(y)

        def f(x):
            return ravel_pytree(model.vector_field(t, unflatten(x), inputs))[0]

        jac = jax.jacfwd(f)(x0)
        w = jnp.eye(x0.shape[0], dtype=jac.dtype) - gamma * dt * jac
        linear = DenseSolve() if self.linear_solver is None else self.linear_solver
        return x0, f(x0), f, lambda r: linear.solve(w, r), unflatten


def _check_first_stage(solver, model, k, r):
    """`k = W⁻¹ r` for the first stage. With decaying modes only (and J normal), `W⁻¹`
    shrinks: `‖k‖ ≤ ‖r‖` and `k·r > 0`. A mode growing faster than `1/(γ·dt)` flips
    (`k·r < 0`) or amplifies (`‖k‖ ≫ ‖r‖`, W near-singular) the step, and the result is
    meaningless: reported (a factor 2 of slack for non-normal J), naming a smaller dt."""
    bad = (jnp.vdot(k, r) < 0) | (jnp.linalg.norm(k) > 2.0 * jnp.linalg.norm(r))
    return eqx.error_if(
        k,
        bad,
        f"{type(solver).__name__}: I − γ·dt·J reverses or amplifies the step of "
        f"{type(model).__name__}: a mode grows faster than 1/(γ·dt) (strong positive "
        "feedback), so the linearly implicit step is meaningless. Use a smaller dt.",
    )


class AbstractThetaSolver(AbstractImplicitSolver):
    r"""The θ-family: $(I - \theta\,dt\,J)\,\delta = dt\,f(t, y_0)$, $y_1 = y_0 + \delta$.

    For a linear model this *is* the θ-method (backward Euler θ = 1, Crank–Nicolson
    θ = ½); for a nonlinear coupled one, the Rosenbrock–Euler method (θ = 1, first order)
    or the linearly implicit trapezoidal rule (θ = ½, second order with the exact `J`)."""

    theta: ClassVar[float]
    structures = (Coupled, Tree)

    def step(self, model, t, y, inputs, dt):
        if isinstance(model.structure, Tree):
            return self._tree_step(model, t, y, inputs, dt)
        x0, f0, _, solve, unflatten = self._system(model, t, y, inputs, self.theta, dt)
        k = _check_first_stage(self, model, solve(f0), f0)
        return unflatten(_combine(1.0, x0, dt, k))

    def _tree_voltages(self, lin, dt, solver):
        """One solve of `(C/dt + w·M) δ = F(V)`, row weight `w = θ` where `C > 0` and
        `w = 1` at the algebraic nodes (Kirchhoff's law holds at the end of the step;
        with θ = ½ it would hold only at the midpoint and oscillate undamped) — NEURON's
        `secondorder = 0` and `2`, node for node."""
        v, m = lin.v, lin.operator
        w = jnp.where(
            jnp.asarray(~np.asarray(lin.algebraic)), jnp.asarray(self.theta, v.dtype), 1.0
        )
        op = TreeOperator(
            m.topology,
            lin.capacitance / dt + w * m.diagonal,
            w * m.lower,
            w[..., m.topology.parent_or_root] * m.upper,
        )
        return v + solver.solve(op, lin.rhs)


class BackwardEuler(AbstractThetaSolver):
    """Linearly implicit backward Euler (θ = 1): first order, L-stable — stiff modes are
    damped at any `dt`. Exactly backward Euler for linear models; NEURON's default scheme
    for cables."""

    theta = 1.0


class CrankNicolson(AbstractThetaSolver):
    """Linearly implicit Crank–Nicolson / trapezoidal rule (θ = ½): second order on
    coupled models and cables, A-stable but not L-stable: a very stiff mode (|λ|·dt ≫ 2)
    is not damped, it flips sign every step with an amplification factor near −1
    (NEURON's `secondorder` schemes share this). Use it where the stiff modes start near
    equilibrium (a cable at rest, smooth inputs); otherwise `Rosenbrock2` (second order,
    L-stable) or `BackwardEuler`."""

    theta = 0.5


# Verwer, Spee, Blom & Hundsdorfer (1999): γ = 1 + 1/√2 makes ROS2 L-stable
_GAMMA = 1.0 + 1.0 / math.sqrt(2.0)


class Rosenbrock2(AbstractImplicitSolver):
    r"""The two-stage Rosenbrock method ROS2 (Verwer, Spee, Blom & Hundsdorfer 1999, SIAM
    J Sci Comput 20:1456), γ = 1 + 1/√2:

    $$W k_1 = f(y_0),\quad W k_2 = f(y_0 + dt\,k_1) - 2k_1,\quad
      y_1 = y_0 + \tfrac{3}{2}dt\,k_1 + \tfrac{1}{2}dt\,k_2,\qquad W = I - \gamma\,dt\,J$$

    Second order for *any* `J` (a W-method) and L-stable: stiff modes are damped at any
    `dt` (unlike `CrankNicolson`), so a stiff coupled model started far from equilibrium
    is accurate at large steps. Two vector-field evaluations and two solves with one
    matrix per step. For `Coupled` models.
    """

    structures = (Coupled,)

    def step(self, model, t, y, inputs, dt):
        x0, f0, f, solve, unflatten = self._system(model, t, y, inputs, _GAMMA, dt)
        k1 = _check_first_stage(self, model, solve(f0), f0)
        k2 = solve(_combine(1.0, f(_combine(1.0, x0, dt, k1)), -2.0, k1))
        return unflatten(_combine(1.0, x0, 1.5 * dt, k1, 0.5 * dt, k2))


# Bank, Coughran, Fichtner, Grosse, Rose & Smith (1985): γ = 2 − √2 gives both stages the
# same matrix and makes the method L-stable
_TRBDF2_GAMMA = 2.0 - math.sqrt(2.0)
# TRBDF2's two tree stages as one `lax.scan` (True) or two solves written out (False, the
# same arithmetic: kept for tests and benchmarks/exp_hay_* to compare against)
_SCAN_STAGES = True


class TRBDF2(AbstractImplicitSolver):
    r"""TR-BDF2 (Bank et al. 1985, IEEE Trans Electron Devices 32:1992; Hosea & Shampine
    1996, Appl Numer Math 20:21): a trapezoidal step to `t + γ·dt`, then BDF2 through
    `t`, `t + γ·dt` and `t + dt`, with γ = 2 − √2:

    $$W\delta_1 = \gamma\,dt\,f(y_0),\quad
      W\delta_2 = \beta\,\delta_1 + \tfrac{\gamma}{2}dt\,f(y_0 + \delta_1),\quad
      y_1 = y_0 + \delta_1 + \delta_2,\qquad W = I - \tfrac{\gamma}{2}dt\,J,$$

    $\beta = (1-\gamma)^2/(\gamma(2-\gamma))$. Second order and L-stable: after a jump
    (a voltage-clamp step, an input switched on) the stiff modes are damped within a
    step instead of ringing as under `CrankNicolson`, whose amplification factor tends
    to −1. Its local error constant (0.040, the `dt³` coefficient of `R(z) − eᶻ`) is
    half Crank–Nicolson's (1/12). Both stages solve with the one matrix.

    - `Tree` models (cable cells, **the default for `Cell`**): two O(N) tree solves
      per step (`_tree_voltages`), gates exponential as with the θ-methods
      (docs/numerics.md, "Cables").
    - `Coupled` models: `J` exact from autodiff, dense solves (`linear_solver`), the
      first stage checked like the other linearly implicit solvers'.
    """

    structures = (Coupled, Tree)
    gamma: ClassVar[float] = _TRBDF2_GAMMA

    def step(self, model, t, y, inputs, dt):
        if isinstance(model.structure, Tree):
            return self._tree_step(model, t, y, inputs, dt)
        g = self.gamma
        x0, f0, f, solve, unflatten = self._system(model, t, y, inputs, g / 2, dt)
        d1 = g * dt * _check_first_stage(self, model, solve(f0), f0)
        beta = (1 - g) ** 2 / (g * (2 - g))
        # `f` at the stage point, `J` kept from the start: second order (a W-method error
        # of O(dt²) in f times the stage weight γ·dt/2)
        d2 = solve(_combine(beta, d1, g / 2 * dt, f(_combine(1.0, x0, 1.0, d1))))
        return unflatten(_combine(1.0, x0, 1.0, d1, 1.0, d2))

    def _tree_voltages(self, lin, dt, solver):
        """TR-BDF2 for `C V' = F(V)`, F linear within the step (`F(V) = rhs − M(V − v)`):

            TR:   C (V_γ − V) = (γ·dt/2)·(F(V) + F(V_γ))
            BDF2: C (V₁ − V_γ) = β·C (V_γ − V) + (γ·dt/2)·F(V₁)

        In increments, with `h = γ·dt/2` and `A = C/h + M`: `A δ₁ = 2 F(V)`, and since
        `F(V_γ) = C δ₁/h − F(V)`, `A δ₂ = (1 + β)·C δ₁/h − F(V)`. Before them the
        algebraic nodes (`C = 0`) are put back on Kirchhoff's law for this step's
        inputs (`_project`), so that a jump of an input there is not a first-order
        error."""
        g = self.gamma
        v, rhs = _project(lin)
        m = lin.operator
        h = g * dt / 2
        beta = (1 - g) ** 2 / (g * (2 - g))
        c = lin.capacitance
        op = TreeOperator(m.topology, c / h + m.diagonal, m.lower, m.upper)
        if _SCAN_STAGES:
            # both stages as one `lax.scan` over `(a, b) = (0, 2), (1 + β, −1)`,
            # right side `a·C·δ_prev/h + b·F`: the same operations in the same order,
            # but the program holds one tree solve where it held two (and its
            # gradient one replay and one transpose of it): the Hay cell's 1 s
            # gradient compiled in 14.7 CPU-s instead of 17.0, run time unchanged
            # (benchmarks/README.md, Hay section)
            coef = jnp.asarray([[0.0, 2.0], [1 + beta, -1.0]], v.dtype)

            def stage(d_prev, ab):
                d = solver.solve(op, ab[0] * c * d_prev / h + ab[1] * rhs)
                return d, d

            _, (d1, d2) = jax.lax.scan(stage, jnp.zeros_like(v), coef)
        else:
            d1 = solver.solve(op, 2 * rhs)
            d2 = solver.solve(op, (1 + beta) * c * d1 / h - rhs)
        if lin.clamped is None or not np.asarray(lin.clamped).any():
            return v + d1 + d2
        return _clamped_modes(lin, v, v + d1 + d2, dt)


class TreeLinearisation(NamedTuple):
    r"""What a `Tree` model gives the implicit solvers for one step, from
    `model.linearise(t, y, inputs, dt)`: its voltage equations

    $$C\,\frac{dV}{dt} = F(V) \approx F(v) - M\,(V - v)$$

    linearised at the step's start `v` with every other state (gates, concentrations)
    frozen and the inputs held over the step. The solvers advance `V` with their own
    implicit scheme (tree solves with `M`) and then hand the new voltages to
    `model.advance_gates(t, linearisation, V, dt)`, which returns the state at
    `t + dt` with the other states advanced over the step at those voltages by their
    own rule (exponential for gates, NEURON's `cnexp`).

    - `v`: the voltages, `(*batch, N)` (a `Cell`: mV).
    - `capacitance`: `C` per node, broadcastable to `v` (nF); 0 at the algebraic nodes.
    - `operator`: `M = −∂F/∂V`, a `TreeOperator` (µS): membrane slope conductances plus
      the axial Laplacian.
    - `rhs`: `F(v)` (nA).
    - `algebraic`: a static numpy bool mask `(N,)` of the nodes with `C = 0` (they carry
      Kirchhoff's law `F = 0`); no two of them may be neighbours (`TRBDF2` checks).
    - `context`: anything the model's `advance_gates` needs from this step's
      linearisation (the solvers pass it back untouched).
    - `clamped`: `None`, or a static numpy bool mask `(N,)` of the voltage-clamped nodes
      (a `Cell`'s `vclamps` sites and its voltage-clamp point processes, NMODL's
      SEClamp). There `TRBDF2` integrates the node's own clamp mode exactly and passes
      the gates their own voltages: `advance_gates(t, linearisation, V, dt,
      v_gates=...)` (`_clamped_modes`). `BackwardEuler` and `CrankNicolson` ignore it.
    - `clamp_active`: `None` (every node of `clamped` is clamped), or a bool array
      broadcastable to `v`: the nodes of `clamped` clamped at this step (an electrode
      point process whose current does not depend on V, NMODL's IClamp, is not).
    """

    v: Array
    capacitance: Array
    operator: TreeOperator
    rhs: Array
    algebraic: Any
    context: Any = None
    clamped: Any = None
    clamp_active: Any = None


def _project(lin: TreeLinearisation):
    """Kirchhoff's law at the algebraic nodes for this step's inputs: each moves so that
    `F = 0` there with its neighbours held, `δ = F/M_ii` — exact because no two are
    neighbours (checked). Returns the new `V` and `F(V)` (`F(V + δ) = F(V) − M δ`
    exactly, F being linear within the step)."""
    alg = np.asarray(lin.algebraic, dtype=bool)
    m = lin.operator
    par = m.topology.parent
    if alg.shape != (m.topology.n,):
        raise ValueError(
            f"TreeLinearisation.algebraic must be a bool mask of the {m.topology.n} nodes, "
            f"got shape {alg.shape}."
        )
    if np.any(alg[1:] & alg[par[1:]]):
        i = int(np.nonzero(alg[1:] & alg[par[1:]])[0][0]) + 1
        raise ValueError(
            f"TRBDF2: the algebraic (C = 0) nodes {par[i]} and {i} are neighbours; the "
            "projection onto Kirchhoff's law needs them apart. Give the node between them "
            "some capacitance, or use BackwardEuler()."
        )
    if not alg.any():
        return lin.v, lin.rhs
    mask = jnp.asarray(alg)
    dz = jnp.where(mask, lin.rhs / m.diagonal, 0.0)
    rhs = lin.rhs - m.mv(dz)
    return lin.v + dz, jnp.where(mask, 0.0, rhs)


def _trbdf2_r(z):
    """TR-BDF2's amplification factor `R(z)` on `y' = λy`, `z = λ·dt`."""
    g = _TRBDF2_GAMMA
    beta = (1 - g) ** 2 / (g * (2 - g))
    r_tr = (1 + g * z / 2) / (1 - g * z / 2)
    return ((1 + beta) * r_tr - beta) / (1 - g * z / 2)


def _clamp_series(n_terms: int = 14):
    """Taylor coefficients (from z⁰) of `G` and `H` of `_clamp_factors`, by power-series
    arithmetic on `R(z)`, `eᶻ` and `φ(z) = (eᶻ − 1)/z`: near z = 0 the closed forms
    cancel (`R − eᶻ = O(z³)`), the series do not."""
    k = n_terms + 2
    fact = np.array([math.factorial(i) for i in range(k + 1)], dtype=float)

    def mul(a, b):
        return np.convolve(a, b)[:k]

    def inv(a):
        out = np.zeros(k)
        out[0] = 1 / a[0]
        for i in range(1, k):
            out[i] = -np.dot(a[1 : i + 1], out[i - 1 :: -1][:i]) / a[0]
        return out

    one, z = np.eye(k)[0], np.eye(k)[1]
    g = _TRBDF2_GAMMA
    beta = (1 - g) ** 2 / (g * (2 - g))
    den = inv(one - g / 2 * z)
    r = mul((1 + beta) * mul(one + g / 2 * z, den) - beta * one, den)
    exp = 1 / fact[:k]
    phi = 1 / fact[1 : k + 1]
    psi = phi - mul(exp, one - z / 2)
    one_minus_r = inv(np.append((one - r)[1:], 0.0))  # 1/((1 − R)/z)
    g_coef = mul(np.append((r - exp)[1:], 0.0), one_minus_r)
    h_coef = -mul(np.append(psi[1:], 0.0), one_minus_r)
    g_coef[:2] = 0.0  # exactly: G = O(z²) (rounding of the cancellation removed)
    h_coef[0] = 0.0
    return g_coef[:n_terms], h_coef[:n_terms]


_G_SERIES, _H_SERIES = _clamp_series()
# below this |z| the series (14 terms: truncation < 1e-13 relative, radius 2/γ ≈ 3.4);
# above it the closed forms, which lose ~ε/|z|³ relative to cancellation
_SERIES_BELOW = 0.5


def _clamp_factors(z):
    r"""`(G(z), H(z))` (0 for z ≥ 0): with `d = V₁ − V₀` TR-BDF2's change of a node whose
    own mode is `V(t) = V* + a·e^{λt}` (`z = λ·dt`, so `d = (R(z) − 1)·a`),

    - `G = (R − eᶻ)/(1 − R)`: `d·G = a·(eᶻ − R)` turns TR-BDF2's end value into the
      exact one;
    - `H = −ψ/(1 − R)`, `ψ = φ(z) − eᶻ(1 − z/2)`, `φ = (eᶻ − 1)/z`: `d·H = a·ψ` is the
      offset of the gates' voltage from the (exact) end value: `a·(φ − eᶻ)` is the
      mean of the mode over the step minus its end value, less `a·(−z/2)·eᶻ`, its
      slow part (the staggered gates take the end value of a slowly moving V).

    `G = O(z²)` and `H = O(z)` as z → 0 (a smooth step keeps its order: `d·G`,
    `d·H` are O(dt³), O(dt²)); as z → −∞, `G → R/(1 − R) → 0` and `H → 1/z`: the end
    value is `V*` and the gates see `V* + a/|z|`, the exact mean — the integral of the
    clamp's transient, which backward Euler's end value carries too."""
    z = jnp.minimum(z, 0.0)  # z ≥ 0: no decaying mode of its own (M_ii ≤ 0), no correction
    small = z > -_SERIES_BELOW
    zs = jnp.where(small, z, 0.0)
    zb = jnp.where(small, -1.0, z)  # both branches finite, gradients included
    r = _trbdf2_r(zb)
    e = jnp.exp(zb)
    psi = jnp.expm1(zb) / zb - e * (1 - zb / 2)
    g_big = (r - e) / (1 - r)
    h_big = -psi / (1 - r)
    g_small = jnp.polyval(jnp.asarray(_G_SERIES[::-1], z.dtype), zs)
    h_small = jnp.polyval(jnp.asarray(_H_SERIES[::-1], z.dtype), zs)
    return jnp.where(small, g_small, g_big), jnp.where(small, h_small, h_big)


def _clamped_modes(lin: TreeLinearisation, v, v1, dt):
    """TR-BDF2's step `v → v1` corrected at the voltage-clamped nodes (`lin.clamped`):
    `(V₁, V_gates)`.

    A clamp's series conductance (1/rs = 100 µS) makes its node's own mode far stiffer
    than anything else in the cell (`z = −dt·M_ii/C_i ≈ −800` on a 10 µm compartment
    at dt = 0.025 ms). After a command step TR-BDF2 leaves `R(z)·a` of that mode's
    amplitude `a` (R(−800) = −0.006: the node reads 0.33 mV beyond the command after a
    55 mV step, where backward Euler reads 0.07 mV short and the true V is on it), and
    its gates, advanced at that end value, see the wrong side of the transient for a
    whole step — hh's m then lags converged NEURON 40× more than NEURON's own error,
    for several time constants. Here the node's mode is taken as the local one,
    `C_i V' = s − M_ii^eff V` (`M_ii^eff`: the diagonal with the membrane-less
    neighbours, which follow the node by Kirchhoff's law, eliminated), its amplitude
    from TR-BDF2's own change (`a = −d/(1 − R(z))`, `d = v1 − v`), and

    - the end value is made exact: `V₁ = v1 + d·G(z)` (the membrane-less neighbours
      moved with it, `Δ_j = −M_ji Δ_i / M_jj`, so Kirchhoff's law still holds);
    - the gates are advanced at `V₁ + d·H(z)`: for a stiff mode the mean of the step's
      transient (backward Euler's `V₁` carries the same integral, so NEURON's gates
      are right there), for a slow one `V₁` itself (`_clamp_factors`).

    For a smooth step both corrections are O(dt³) and O(dt²), so the scheme keeps its
    order at a weak clamp (large rs); at a strong one the node is pinned and nothing
    is lost. Only the clamped nodes (and their membrane-less neighbours) change."""
    alg = np.asarray(lin.algebraic, dtype=bool)
    m = lin.operator
    topo = m.topology
    n = topo.n
    par = np.asarray(topo.parent)
    nodes = np.nonzero(np.asarray(lin.clamped, dtype=bool) & ~alg)[0]
    if not nodes.size:  # clamps on membrane-less nodes only: those are exact already
        return v1

    def full(x):
        return jnp.broadcast_to(x, jnp.broadcast_shapes(jnp.shape(x), (n,)))

    def take(x, index, size=n):
        return apply(StaticMap.take(np.asarray(index), size), x)

    def spread(x, index, size=n):
        return apply(StaticMap.spread(np.asarray(index), size), x)

    diag, low, up = full(m.diagonal), full(m.lower), full(m.upper)
    # the membrane-less neighbours of each clamped node (static): pair p joins node
    # nodes[kk[p]] and jj[p] through the edge of node ee[p] (the child of the two)
    kk, jj, ee, is_parent = [], [], [], []
    for k, i in enumerate(nodes):
        if par[i] >= 0 and alg[par[i]]:
            kk.append(k), jj.append(par[i]), ee.append(i), is_parent.append(True)
        for c in np.nonzero((par == i) & alg)[0]:
            kk.append(k), jj.append(c), ee.append(c), is_parent.append(False)
    eff = take(diag, nodes)
    if kk:
        lo_e, up_e = take(low, ee), take(up, ee)
        side = jnp.asarray(np.array(is_parent))
        m_ij = jnp.where(side, lo_e, up_e)  # M[clamped, neighbour]
        m_ji = jnp.where(side, up_e, lo_e)  # M[neighbour, clamped]
        m_jj = take(diag, jj)
        eff = eff - spread(m_ij * m_ji / m_jj, kk, nodes.size)
    g, h = _clamp_factors(-dt * eff / take(full(lin.capacitance), nodes))
    if lin.clamp_active is not None:
        on = take(full(jnp.asarray(lin.clamp_active, v1.dtype)), nodes) > 0
        g, h = jnp.where(on, g, 0.0), jnp.where(on, h, 0.0)
    d = take(v1 - v, nodes)
    delta = d * g
    dv = spread(delta, nodes)
    if kk:
        dv = dv + spread(-m_ji * take(delta, kk, nodes.size) / m_jj, jj)
    v1 = v1 + dv
    return v1, v1 + spread(d * h, nodes)
