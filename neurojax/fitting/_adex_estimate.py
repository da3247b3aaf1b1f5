"""A data-driven estimate of AdEx's parameters from a spiking voltage trace (issue #19):
variable projection on the simulator's own step, no simulation.

With V recorded at every step and the spikes known (the recorded resets, `reset_steps`),
the adaptation current `w` obeys a *linear* ODE driven by the recorded V and the spike
train. Under `ExponentialEuler` (AdEx's default solver) its step is exact for fixed V,

    w[j+1] = e·w[j] + (1 − e)·a·(V[j] − E_L) + b·s[j+1],   e = exp(−dt/τ_w),

(`s[j+1]` = 1 where row j+1 is a reset), so `w = a·W₁ − a·E_L·W₀ + b·W_b` with three
filtered traces that depend on τ_w alone. The voltage step is

    V[j+1] − V[j] = dt·φ₁(λ[j]·dt)·f(V[j], w[j], I[j+1]),
    τ·f = −(V − E_L) + Δ_T·exp((V − V_T)/Δ_T) − R·w + R·I,

with `λ = ∂f/∂V = (exp((V − V_T)/Δ_T) − 1)/τ` capped at `GROWTH_CAP/dt`, and `φ₁(z) =
(eᶻ − 1)/z`. For fixed (Δ_T, τ_w) and fixed φ₁ factors, `f` is linear in seven
coefficients: `[−V, 1, exp(V/Δ_T), −W₁, W₀, −W_b, I]·θ` with `θ = (1, E_L, Δ_T·e^{−V_T/Δ_T},
R·a, R·a·E_L, R·b, R)/τ`. So:

- θ by linear least squares (variable projection: the residual is a function of
  (Δ_T, τ_w) only);
- φ₁ at the current estimate, iterated to a fixed point (the factor is 1 ± 1 % below the
  upswing, up to ~3 on its last steps; those last `UPSWING_ROWS` steps before each spike
  are left out);
- (Δ_T, τ_w) by a log-spaced grid and a Levenberg–Marquardt refinement of the
  projected residuals.

On the simulator's own noise-free trace at the recording's dt every row holds exactly
(up to float32 rounding of the recording), so the estimate is the truth. With
measurement noise the one-step differences are dominated by it (1 mV noise at dt 0.1 ms
is 14 mV/ms per sample), so the regression is summed over windows of `window` steps
(`V[k+m] − V[k] = Σ dt·φ₁·f`, the target noise stays √2·σ while the signal grows with m)
and the exponential column is divided by its noise inflation `exp(σ²/(2Δ_T²))`
(E[exp((V + ε)/Δ_T)] for Gaussian ε). What remains is an errors-in-variables bias of
order σ²/(m·var V) — the estimate is a *start* for `SpikeClampedInit`'s clamped stages,
whose spike-clamped loss is unbiased.
"""

from __future__ import annotations

import numpy as np

from ._checks import check_positive
from ._data_driven import noise_sd

NOISE_FREE = 1e-2
"""mV: below this `noise_sd` the trace counts as noise-free (one-step regression)."""

WINDOW_MS = 4.0
"""ms: the regression window on a noisy trace (at most a quarter of the median interspike
interval, at least `MIN_WINDOW` steps). Measured, AdEx (Brette & Gerstner), 1 mV, dt 0.1,
6 noise draws, mean relative error (s.d.) of τ, R, a, Δ_T: windows of 0.5 ms −10 % (2),
−4 % (2), +63 % (82), +15 % (6); 1 ms −6, −3, +43 (66), +16; 2 ms −3, −2, +34 (50),
+11; 4 ms −1.5 (1.1), −1.2 (0.8), +6 (14), +10 (2); V_T, E_L within 0.3 % throughout."""

MIN_WINDOW = 5
"""Steps: the smallest regression window on a noisy trace."""

GROWTH_CAP = 30.0
"""`ExponentialEuler`'s cap on λ·dt (`neurojax.solvers._exponential_euler.GROWTH_CAP`)."""

UPSWING_ROWS = 3
"""The regression leaves out windows within this many steps before a spike (see
`_Problem.fixed_point`); the exponential term is still well sampled below them (at
V_T + 5 mV it is ~6 mV/ms for the defaults)."""

PHI_ITERATIONS = 60
"""At most this many fixed-point iterations of the φ₁ factors per (Δ_T, τ_w) in the
refinement (measured: the error shrinks ~5-fold per iteration; 6 left `a` 7e-4 off on a
float64 trace, 20 reached 1e-10)."""

PHI_RTOL = 1e-12
"""The φ₁ iteration stops when no coefficient changes by more than this (relative)."""

DELTA_T_GRID = np.geomspace(0.2, 12.0, 25)
"""mV: the Δ_T values of the grid search."""

TAU_W_GRID = np.geomspace(3.0, 3000.0, 25)
"""ms: the τ_w values of the grid search."""


def _phi1(z):
    z = np.asarray(z, dtype=float)
    small = np.abs(z) < 1e-6
    zs = np.where(small, 1.0, z)
    return np.where(small, 1.0 + z / 2 + z * z / 6, np.expm1(zs) / zs)


def _filtered(x, spikes, e):
    """`y[j+1] = e·y[j] + (1 − e)·x[j] (+ s[j+1])` along axis 0 from y[0] = 0."""
    from scipy.signal import lfilter

    # y[j+1] = e y[j] + u[j+1], u[j+1] = (1-e) x[j]  → lfilter([1], [1, -e], u) with y[0]=u[0]=0
    u = np.zeros_like(x)
    u[1:] = (1 - e) * x[:-1]
    if spikes is not None:
        u = u + spikes
    return lfilter([1.0], [1.0, -e], u, axis=0)


class _Problem:
    """The recorded trace, flattened into the rows the regression uses."""

    def __init__(self, v, current, dt, spikes, v_th, t_ref, window, sigma):
        self.v = v
        self.current = current
        self.dt = dt
        self.spikes = spikes
        self.v_th = v_th
        self.sigma = sigma
        n = v.shape[0]
        # transitions j → j+1 that are the model's own subthreshold step: not into a reset
        # (the step that spikes), not within a refractory hold after one
        ok = np.ones_like(v, dtype=bool)
        ok[-1] = False
        ok[:-1] &= spikes[1:] == 0
        n_ref = int(round(t_ref / dt)) if t_ref > 0 else 0
        if n_ref:
            rows, cols = np.nonzero(spikes)
            for r, c in zip(rows, cols, strict=True):
                ok[r : min(n, r + n_ref), c] = False
        self.ok = ok
        self.window = max(1, int(window))
        m = self.window
        # windows [k, k+m) of consecutive good transitions (all sweeps)
        good = np.cumsum(np.concatenate([np.zeros((1,) + v.shape[1:]), (~ok).astype(float)]), 0)
        k = np.arange(n - m + 1)
        # no bad transition in [k, k+m): bad count equal at k and k+m
        # (overlapping windows: correlated, which matters for an s.e., not the estimate)
        self.valid = good[k + m] == good[k]
        vk = v[: n - m + 1]
        vkm = np.concatenate([v[m:], np.full((1,) + v.shape[1:], np.nan)])[: n - m + 1]
        self.dv = vkm - vk  # V[k+m] − V[k]; the last window (k + m = n) is invalid anyway
        self.valid &= np.isfinite(self.dv)
        self.v_ref = float(np.max(np.where(ok, np.minimum(v, v_th), -np.inf)))
        self._w_key = self._ex_key = None
        # the current of step j → j+1 is the input row j+1
        self._current = np.zeros_like(v)
        self._current[:-1] = current[1:]
        # windows clear of the last UPSWING_ROWS steps before a spike
        near = np.zeros_like(ok)
        for i in range(1, UPSWING_ROWS + 1):
            near[:-i] |= spikes[i:] > 0
        far = np.cumsum(np.concatenate([np.zeros((1,) + v.shape[1:]), near.astype(float)]), 0)
        self.calm = (far[k + m] == far[k])[self.valid]

    def window_sum(self, x):
        """`Σ_{j=k}^{k+m−1} x[j]` for every window start k (shape of `dv`)."""
        # a sum of m shifted copies, not differences of a cumulative sum: the columns span
        # many orders of magnitude (the exponential), and a cumulative sum's differences
        # lose the small ones
        m, n = self.window, x.shape[0]
        x = np.where(self.ok, x, 0.0)  # rows outside every valid window (spikes: φ₁ ~ 1e11)
        out = x[: n - m + 1].copy()
        for i in range(1, m):
            out += x[i : n - m + 1 + i]
        return out

    def raw_columns(self, delta_t, tau_w):
        """The seven per-row regressors at (Δ_T, τ_w), before the φ₁·dt factor (the
        filtered w columns cached per τ_w, the exponential per Δ_T)."""
        v, dt = self.v, self.dt
        if self._w_key != float(tau_w):
            e = np.exp(-dt / tau_w)
            w1 = _filtered(v, None, e)
            w0 = _filtered(np.ones_like(v), None, e)
            wb = _filtered(np.zeros_like(v), self.spikes, e)
            self._w_key, self._w = float(tau_w), (-w1, w0, -wb)
        if self._ex_key != float(delta_t):
            vc = np.minimum(v, self.v_th)
            # exp(V/Δ_T), scaled by exp(−V_ref/Δ_T) against overflow/underflow (the scale
            # is taken out again in `params`), and divided by its noise inflation
            ex = np.exp((vc - self.v_ref) / delta_t) / np.exp(self.sigma**2 / (2 * delta_t**2))
            self._ex_key, self._ex = float(delta_t), ex
        return [-v, np.ones_like(v), self._ex, *self._w, self._current]

    def columns(self, delta_t, tau_w, phi):
        g = self.dt * phi
        cols = self.raw_columns(delta_t, tau_w)
        X = np.stack([self.window_sum(g * c)[self.valid] for c in cols], 1)
        return X, self.dv[self.valid]

    def solve(self, delta_t, tau_w, phi, rows=None, e_l=None):
        """θ by least squares. With `e_l` (E_L from the previous iterate) the two w
        columns are one, `−(W₁ − E_L·W₀)` (θ₅ = θ₄·E_L imposed): W₀ → 1 within τ_w of the
        start, so free they are nearly collinear with the constant column, and `a` took
        that variance (measured, 1 mV: `a` ±14–40 % free)."""
        X, y = self.columns(delta_t, tau_w, phi)
        if rows is not None:
            X, y = X[rows], y[rows]
        if e_l is not None:
            X = np.concatenate([X[:, :3], X[:, 3:4] + e_l * X[:, 4:5], X[:, 5:]], 1)
        # normal equations on unit-norm columns (condition ~1e2–1e3 here, squared: far
        # inside float64), ~100× cheaper than an SVD-based lstsq on ~10⁴ rows
        scale = np.sqrt(np.sum(X**2, 0))
        scale[scale == 0] = 1.0
        Xs = X / scale
        try:
            theta = np.linalg.solve(Xs.T @ Xs, Xs.T @ y) / scale
        except np.linalg.LinAlgError:
            return None, np.inf, None
        r = y - X @ theta
        if e_l is not None:
            theta = np.concatenate([theta[:4], [theta[3] * e_l], theta[4:]])
        return theta, float(np.mean(r**2)), r

    def phi(self, p):
        """φ₁(λ·dt) of every transition at the parameters `p` (dict)."""
        vc = np.minimum(self.v, self.v_th)
        lam = (np.exp((vc - p["v_t"]) / p["delta_t"]) - 1.0) / p["tau"]
        lam = np.minimum(lam, GROWTH_CAP / self.dt)
        return _phi1(lam * self.dt)

    def params(self, theta, delta_t, tau_w):
        t1, t2, t3, t4, t5, t6, t7 = theta
        if not (t1 > 0 and t3 > 0 and t7 > 0):
            return None
        tau = 1.0 / t1
        # θ₃ = Δ_T/τ·exp((V_ref − V_T)/Δ_T)
        v_t = self.v_ref - delta_t * np.log(t3 * tau / delta_t)
        return dict(
            tau=tau,
            v_rest=t2 / t1,
            r=t7 / t1,
            a=t4 / t7,
            b=t6 / t7,
            tau_w=float(tau_w),
            delta_t=float(delta_t),
            v_t=float(v_t),
            v_rest_from_w=(t5 / t4) if t4 != 0 else np.nan,
        )

    def fixed_point(self, delta_t, tau_w, iterations):
        """`(θ, mse, params, residuals)` at (Δ_T, τ_w), φ₁ iterated from 1 (each solve
        at the previous solve's τ, V_T; from the second on, with E_L in w fixed at the
        previous solve's, see `solve`). The windows within `UPSWING_ROWS` steps before a spike
        are left out: there φ₁ reaches ~3 and is so sensitive to τ, V_T that the
        iteration did not converge (measured: 0.018 mV² at the truth after 8 iterations
        with them, 2e-12 without; without them it contracts ~30-fold per iteration)."""
        phi = np.ones_like(self.v)
        out = (None, np.inf, None, None)
        for _ in range(iterations):
            e_l = None if out[2] is None else out[2]["v_rest"]
            theta, mse, r = self.solve(delta_t, tau_w, phi, self.calm, e_l)
            p = None if theta is None else self.params(theta, delta_t, tau_w)
            if p is None:
                break
            done = out[0] is not None and np.all(np.abs(theta - out[0]) <= PHI_RTOL * np.abs(theta))
            out = (theta, mse, p, r)
            if done:
                break
            phi = self.phi(p)
        return out


def adex_from_voltage(v, current, dt, *, v_th=0.0, t_ref=0.0, spikes=None, window=None):
    """AdEx's `tau, r, a, b, tau_w, delta_t, v_t, v_rest, v_reset` from a recorded spiking
    trace `v` (mV, `(n_steps, *batch)`, row i at time (i + 1)·dt, the model started at
    V = `v_rest`, w = 0 before row 0, like `simulate`'s output) and the current (nA, same
    shape), without simulating: see the module docstring.

    `v_th`, `t_ref`: the model's cut-off and refractory period (not identifiable from the
    trace; `v_th` only caps the exponential). `spikes`: the reset rows (default
    `reset_steps(v)`). `window`: steps per regression window (default 1 on a noise-free
    trace, else `WINDOW_MS`, at most a quarter of the median interspike interval, at least
    `MIN_WINDOW` steps).

    Returns `(params, info)`: a dict of the nine values, and a dict with the projected
    residual (`mse`, (mV)² per window), the noise estimate `sigma`, the window, the
    number of windows and the consistency check `v_rest_from_w` (E_L as it enters `w`;
    equal to `v_rest` on the model's own data). Raises `ValueError` where the trace has
    no spike or the regression has no positive solution."""
    from scipy.optimize import least_squares

    from ._spike_clamp import reset_steps

    v = np.asarray(v, dtype=float)
    current = np.asarray(current, dtype=float)
    if v.shape != current.shape:
        raise ValueError(
            f"adex_from_voltage: the voltage {v.shape} and the current {current.shape} must "
            "have the same shape (n_steps, *batch)."
        )
    dt = check_positive("adex_from_voltage", "dt", dt, "ms")
    for name, x in (("voltage", v), ("current", current)):
        if not np.all(np.isfinite(x)):
            raise ValueError(
                f"adex_from_voltage: the {name} has NaN or inf values (first at row "
                f"{int(np.argwhere(~np.isfinite(x))[0][0])}); the estimate needs every row."
            )
    if v.ndim == 1:
        v, current = v[:, None], current[:, None]
    v, current = v.reshape(v.shape[0], -1), current.reshape(current.shape[0], -1)
    s = reset_steps(v) if spikes is None else np.asarray(spikes, dtype=float).reshape(v.shape)
    if not s.any():
        raise ValueError("adex_from_voltage: the recording shows no spike (no reset).")
    sigma = float(noise_sd(v))
    if window is None:
        window = 1
        if sigma >= NOISE_FREE:
            isi = [np.diff(np.flatnonzero(col)) for col in s.T]
            isi = np.concatenate(isi) if any(len(i) for i in isi) else np.array([v.shape[0]])
            window = max(MIN_WINDOW, min(int(round(WINDOW_MS / dt)), int(np.median(isi)) // 4))
    prob = _Problem(v, current, dt, s, float(v_th), float(t_ref), window, sigma)

    n_rows = int(prob.calm.sum())

    def residuals(x):
        d, tw = np.exp(x)
        out = prob.fixed_point(d, tw, PHI_ITERATIONS)
        if out[2] is None:
            return np.full(n_rows, 1e6)
        return out[3]

    # grid on (Δ_T, τ_w) with two φ₁ iterations each, then Levenberg–Marquardt on the
    # projected residuals in logs (quadratic convergence on a zero-residual problem:
    # Nelder–Mead stopped 1e-5 off in Δ_T, 1e-3 in `a`, on a noise-free float64 trace)
    best = (np.inf, None)
    for tw in TAU_W_GRID:
        for d in DELTA_T_GRID:
            out = prob.fixed_point(d, tw, 2)[:3]
            if out[2] is not None and out[1] < best[0]:
                best = (out[1], (d, tw))
    if best[1] is None:
        raise ValueError(
            "adex_from_voltage: no (Δ_T, τ_w) on the grid gives a positive τ, R and "
            "exponential term: the trace does not look like an AdEx recording."
        )
    res = least_squares(residuals, np.log(best[1]), method="lm", xtol=1e-12, ftol=1e-15)
    d, tw = np.exp(res.x)
    theta, mse, p, _ = prob.fixed_point(d, tw, PHI_ITERATIONS)
    if p is None:
        raise ValueError("adex_from_voltage: the regression has no positive solution.")
    v_reset = float(np.median(v[s > 0]))
    p["v_reset"] = v_reset
    info = dict(
        mse=mse,
        sigma=sigma,
        window=prob.window,
        n_windows=int(prob.valid.sum()),
        v_rest_from_w=p.pop("v_rest_from_w"),
        grid_best=best[1],
    )
    return {k: float(x) for k, x in p.items()}, info
