"""Reduced two-variable decision-making model of Wong & Wang (2006)."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from .._model import NON_NEGATIVE, POSITIVE, AbstractModel, Elementwise, parameter
from .._newton import root


class WongWangState(NamedTuple):
    s1: Array  # NMDA gating of population 1, 0..1
    s2: Array  # NMDA gating of population 2, 0..1
    noise1: Array  # background noise current into population 1, nA (updated by event_step)
    noise2: Array  # background noise current into population 2, nA


class WongWangFixedPoint(NamedTuple):
    s1: float
    s2: float
    r1: float  # firing rates at the fixed point, Hz
    r2: float
    eigenvalues: np.ndarray  # of the 2×2 Jacobian, 1/ms
    stable: bool


def _exprel_inv(z):
    """`z / (1 − e^{−z})`, → 1 at 0, with finite value and gradient there."""
    small = jnp.abs(z) < 1e-3
    zs = jnp.where(small, 1.0, z)
    return jnp.where(small, 1.0 + z / 2 + z * z / 12, zs / (1.0 - jnp.exp(-zs)))


class WongWang(AbstractModel):
    r"""Reduced decision-making network of Wong & Wang (2006) J Neurosci 26:1314 — two
    selective populations reduced to their NMDA gating variables:

    $$\frac{dS_i}{dt} = -\frac{S_i}{\tau_S} + (1 - S_i)\,\gamma\,H(x_i),\qquad
      H(x) = \frac{a x - b}{1 - e^{-d(a x - b)}}$$

    $$x_1 = J_{11} S_1 - J_{12} S_2 + I_0 + I_1 + I_{noise,1}$$ (and 1 ↔ 2)

    with the published values a = 270 Hz/nA, b = 108 Hz, d = 0.154 s, γ = 0.641,
    τ_S = 100 ms, J₁₁ = J₂₂ = 0.2609 nA, J₁₂ = J₂₁ = 0.0497 nA, I₀ = 0.3255 nA, and
    background noise (Ornstein–Uhlenbeck, τ_AMPA = 2 ms, σ = 0.02 nA). Stimulus:
    `I_i = J_ext·μ₀·(1 ± c′/100)`, J_ext = 5.2·10⁻⁴ nA/Hz (`stimulus(mu0, coherence)`).

    Units: time ms, currents nA, rates Hz. Inputs: `(n_steps, *batch, 2)` stimulus currents
    `(I₁, I₂)` in nA. Noise is sampled from `simulate(..., key=key)` (none without a key or
    with `sigma=0`); its currents are state variables that the solver holds constant and
    `event_step` advances exactly (OU update). `Elementwise`: S₁ and S₂ are separate
    leaves, so exponential Euler applies.
    """

    a: Array = parameter(270.0, POSITIVE)  # Hz/nA
    b: Array = parameter(108.0)  # Hz
    d: Array = parameter(0.154, POSITIVE)  # s
    gamma: Array = parameter(0.641, POSITIVE)
    tau_s: Array = parameter(100.0, POSITIVE)  # ms
    j11: Array = parameter(0.2609)  # nA (J_N11 = J_N22)
    j12: Array = parameter(0.0497)  # nA (J_N12 = J_N21)
    i0: Array = parameter(0.3255)  # nA
    j_ext: Array = parameter(5.2e-4)  # nA/Hz
    tau_noise: Array = parameter(2.0, POSITIVE)  # ms
    sigma: Array = parameter(0.02, NON_NEGATIVE)  # nA

    structure = Elementwise()

    def rate(self, x):
        """Population transfer function H(x): input current (nA) → rate (Hz)."""
        y = self.a * x - self.b
        return _exprel_inv(self.d * y) / self.d

    def stimulus(self, mu0, coherence):
        """`(I₁, I₂)` in nA for stimulus strength `mu0` (Hz, ≥ 0) and coherence c′ (%, in
        [−100, 100]: a positive c′ favours population 1); `ValueError` outside."""
        _check_stimulus(mu0, coherence)
        c = jnp.asarray(coherence) / 100.0
        return jnp.stack([self.j_ext * mu0 * (1 + c), self.j_ext * mu0 * (1 - c)], axis=-1)

    def batch_shape(self, inputs):
        shape = tuple(jnp.shape(inputs))
        if not shape or shape[-1] != 2:
            raise ValueError(
                "WongWang takes the stimulus currents (I1, I2) as inputs shaped "
                "(n_steps, *batch, 2), e.g. jnp.tile(model.stimulus(30.0, 6.4), (n_steps, 1)); "
                f"got a step of shape {shape}."
            )
        return shape[:-1]

    def init_state(self, batch_shape=()):
        # The spontaneous state at μ0 = 0 (S ≈ 0.04 is close; exactly: fixed_points(0, 0)).
        z = jnp.zeros(batch_shape, jnp.result_type(float))
        return WongWangState(s1=z + 0.1, s2=z + 0.1, noise1=z, noise2=z)

    def currents(self, y, inputs):
        i1, i2 = inputs[..., 0], inputs[..., 1]
        x1 = self.j11 * y.s1 - self.j12 * y.s2 + self.i0 + i1 + y.noise1
        x2 = self.j11 * y.s2 - self.j12 * y.s1 + self.i0 + i2 + y.noise2
        return x1, x2

    def vector_field(self, t, y, inputs):
        x1, x2 = self.currents(y, inputs)
        g = self.gamma * 1e-3  # H in Hz = 1/s → per ms
        return WongWangState(
            s1=-y.s1 / self.tau_s + (1 - y.s1) * g * self.rate(x1),
            s2=-y.s2 / self.tau_s + (1 - y.s2) * g * self.rate(x2),
            noise1=jnp.zeros_like(y.noise1),
            noise2=jnp.zeros_like(y.noise2),
        )

    def event_step(self, info, y_old, y_new, z, inputs):
        if info.key is None:
            return y_new, z, None
        # Exact OU update over dt: mean decays by e^{−dt/τ}, variance σ²(1 − e^{−2dt/τ}).
        decay = jnp.exp(-info.dt / self.tau_noise)
        scale = self.sigma * jnp.sqrt(1 - decay**2)
        k1, k2 = jax.random.split(info.key)
        n1 = y_new.noise1 * decay + scale * jax.random.normal(
            k1, y_new.noise1.shape, y_new.noise1.dtype
        )
        n2 = y_new.noise2 * decay + scale * jax.random.normal(
            k2, y_new.noise2.shape, y_new.noise2.dtype
        )
        return y_new._replace(noise1=n1, noise2=n2), z, None

    def voltage(self, y):
        raise AttributeError(
            "WongWang is a rate model: it has no membrane potential; read states.s1, s2."
        )

    def rates(self, y, inputs):
        """Firing rates (Hz) of the two populations in state `y` with stimulus `inputs`."""
        x1, x2 = self.currents(y, inputs)
        return self.rate(x1), self.rate(x2)

    def plot_phase_plane(
        self,
        mu0: float | int,
        coherence: float | int,
        *,
        ax=None,
        n_grid: int = 25,
        trajectories=(),
    ):
        """Phase plane (S₁, S₂) at stimulus `mu0` (Hz), `coherence` (%): vector field,
        nullclines, fixed points (filled: stable, open: unstable) and optional
        `trajectories` (arrays `(n, 2)` of S₁, S₂). Returns the axes."""
        import matplotlib.pyplot as plt

        ax = ax or plt.gca()
        inputs = self.stimulus(mu0, coherence)
        g = jnp.linspace(0.0, 0.8, 200)
        s1, s2 = jnp.meshgrid(g, g)
        zero = jnp.zeros_like(s1)
        d = self.vector_field(0.0, WongWangState(s1, s2, zero, zero), inputs)
        ax.contour(np.asarray(s1), np.asarray(s2), np.asarray(d.s1), levels=[0.0], colors="C0")
        ax.contour(np.asarray(s1), np.asarray(s2), np.asarray(d.s2), levels=[0.0], colors="C1")
        q = jnp.linspace(0.0, 0.8, n_grid)
        q1, q2 = jnp.meshgrid(q, q)
        z = jnp.zeros_like(q1)
        dq = self.vector_field(0.0, WongWangState(q1, q2, z, z), inputs)
        ax.quiver(
            np.asarray(q1),
            np.asarray(q2),
            np.asarray(dq.s1),
            np.asarray(dq.s2),
            color="0.7",
            angles="xy",
        )
        for path in trajectories:
            path = np.asarray(path)
            ax.plot(path[:, 0], path[:, 1], color="k", lw=1)
        for fp in self.fixed_points(mu0, coherence):
            ax.plot(fp.s1, fp.s2, "o", ms=7, mfc="k" if fp.stable else "w", mec="k")
        ax.set_xlabel("$S_1$")
        ax.set_ylabel("$S_2$")
        ax.set_title(
            f"μ0 = {mu0:g} Hz, c′ = {coherence:g} %  (blue: dS₁/dt = 0, orange: dS₂/dt = 0)"
        )
        return ax

    def fixed_points(
        self, mu0: float | int, coherence: float | int, n_grid: int = 40
    ) -> list[WongWangFixedPoint]:
        """All fixed points (noise off) for stimulus `mu0` (Hz) and `coherence` (%), found
        by Newton's method (Jacobian by `jax.jacfwd`, float64) from an `n_grid²` grid of
        seeds over [0, 1]², with their stability (eigenvalues of the Jacobian). `mu0` ≥ 0
        Hz and `coherence` in [−100, 100] % (`ValueError` otherwise)."""
        _check_stimulus(mu0, coherence)
        with jax.enable_x64(True):
            model = jax.tree_util.tree_map(lambda x: jnp.asarray(x, jnp.float64), self)
            inputs = model.stimulus(jnp.float64(mu0), jnp.float64(coherence))
            g = (np.arange(n_grid) + 0.5) / n_grid
            seeds = jnp.asarray(np.stack(np.meshgrid(g, g), -1).reshape(-1, 2))
            roots, res = (np.asarray(a) for a in _newton_all(model, inputs, seeds))
            ok = np.all(np.abs(res) < 1e-12, axis=1) & np.all(np.isfinite(roots), axis=1)
            found: list[np.ndarray] = []
            for r in roots[ok]:
                if not any(np.max(np.abs(r - q)) < 1e-7 for q in found):
                    found.append(r)
            out = []
            for r in sorted(found, key=lambda r: (r[0] - r[1], r[0])):
                ev = np.linalg.eigvals(
                    np.asarray(jax.jacfwd(_field)(jnp.asarray(r), model, inputs))
                )
                y = WongWangState(r[0], r[1], 0.0, 0.0)
                r1, r2 = model.rates(y, inputs)
                out.append(
                    WongWangFixedPoint(
                        float(r[0]),
                        float(r[1]),
                        float(r1),
                        float(r2),
                        ev,
                        bool(np.all(ev.real < 0)),
                    )
                )
            return out


def _field(s, model, inputs):
    y = WongWangState(s[0], s[1], jnp.zeros_like(s[0]), jnp.zeros_like(s[0]))
    d = model.vector_field(0.0, y, inputs)
    return jnp.stack([d.s1, d.s2])


@jax.jit
def _newton_all(model, inputs, seeds):
    """Newton's method (the package's `root`, iterates kept in [0, 1]²) from every seed;
    returns the roots and their residuals."""

    def newton(s):
        def fun(s):
            return _field(s, model, inputs)

        def box(s):
            return jnp.clip(s, 0.0, 1.0)

        return root(fun, s, rtol=1e-13, max_steps=60, project=box)[0]

    roots = jax.vmap(newton)(seeds)
    return roots, jax.vmap(lambda s: _field(s, model, inputs))(roots)


def _check_stimulus(mu0, coherence) -> None:
    """Refuse a stimulus that is not physical (as `wang2002` does): `mu0` a rate ≥ 0 Hz,
    `coherence` a percentage in [−100, 100] (beyond, one population would receive a
    negative current). Traced values are not checked."""
    if isinstance(mu0, jax.core.Tracer) or isinstance(coherence, jax.core.Tracer):
        return
    c, m = np.asarray(coherence, dtype=float), np.asarray(mu0, dtype=float)
    if np.any(~np.isfinite(c)) or np.any(np.abs(c) > 100.0):
        raise ValueError(
            f"WongWang: coherence c' is a percentage in [-100, 100] (the stimulus "
            f"J_ext·mu0·(1 ± c'/100) of each population is >= 0), got {coherence!r}."
        )
    if np.any(~np.isfinite(m)) or np.any(m < 0):
        raise ValueError(f"WongWang: mu0 (stimulus rate, Hz) must be >= 0, got {mu0!r}.")
