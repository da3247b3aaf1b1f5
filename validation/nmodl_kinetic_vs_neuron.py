"""A large KINETIC scheme against NEURON compiling the same `.mod` file, with its
compile and run times.

The scheme: Raman & Bean's (2001, Biophys J 80:729) 13-state resurgent Na⁺ channel
(closed C1–C5, open O, blocked B, inactivated I1–I6; α = 150·e^{v/20}, β = 3·e^{−v/20},
γ = 150, δ = 40, ε = 1.75, ζ = 0.03·e^{−v/25} /ms, Con/Coff/Oon/Ooff with
a = ((Oon/Con)/(Ooff/Coff))^{1/8}; Q10 = 3 from 22 °C), written here from those
equations as a KINETIC block with CONSERVE and STEADYSTATE in INITIAL — the kind of
Markov channel whose compilation did not finish before the Newton step was vectorised
(`neurojax.nmodl._compile._newton`). One compartment with hh's K and leak (hh's Na off),
backward Euler at dt = 0.025 ms in both, current clamp and voltage clamp as
`validation/nmodl_vs_neuron.py` (whose helpers run NEURON).

    python validation/nmodl_kinetic_vs_neuron.py   # max/mean |Δ| per trace, and timings

`tests/test_nmodl_kinetic_compile.py` (slow tier) runs the same comparison.
"""

from __future__ import annotations

import importlib.util
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

_here = Path(__file__).parent
_spec = importlib.util.spec_from_file_location("nmodl_vs_neuron", _here / "nmodl_vs_neuron.py")
base = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(base)

RESURGENT_NA = """
: 13-state resurgent Na+ channel, written for neurojax from the equations of
: Raman & Bean (2001) Biophys J 80:729 (their Fig. 8 scheme; rates at 22 degC)
NEURON {
    SUFFIX rbna
    USEION na READ ena WRITE ina
    RANGE gbar, g
}
UNITS { (mA) = (milliamp) (mV) = (millivolt) (S) = (siemens) }
PARAMETER {
    gbar = 0.015 (S/cm2) <0,1e9>
    Con = 0.005 (/ms)  Coff = 0.5 (/ms)  Oon = 0.75 (/ms)  Ooff = 0.005 (/ms)
    alfac = 150 (/ms)  x1 = 20 (mV)  btfac = 3 (/ms)  x2 = -20 (mV)
    gamma = 150 (/ms)  delta = 40 (/ms)  epsilon = 1.75 (/ms)
    zeta = 0.03 (/ms)  x3 = -25 (mV)  q10 = 3
}
ASSIGNED {
    v (mV) ena (mV) ina (mA/cm2) g (S/cm2) celsius (degC)
    al (/ms) bt (/ms) ze (/ms) aa qt
}
STATE { C1 C2 C3 C4 C5 O B I1 I2 I3 I4 I5 I6 }
INITIAL {
    C1 = 1
    SOLVE kin STEADYSTATE sparse
}
BREAKPOINT {
    SOLVE kin METHOD sparse
    g = gbar*O
    ina = g*(v - ena)
}
KINETIC kin {
    rates(v)
    ~ C1 <-> C2 (4*al, bt)
    ~ C2 <-> C3 (3*al, 2*bt)
    ~ C3 <-> C4 (2*al, 3*bt)
    ~ C4 <-> C5 (al, 4*bt)
    ~ C5 <-> O (gamma*qt, delta*qt)
    ~ O <-> B (epsilon*qt, ze)
    ~ I1 <-> I2 (4*al*aa, bt/aa)
    ~ I2 <-> I3 (3*al*aa, 2*bt/aa)
    ~ I3 <-> I4 (2*al*aa, 3*bt/aa)
    ~ I4 <-> I5 (al*aa, 4*bt/aa)
    ~ I5 <-> I6 (gamma*qt, delta*qt)
    ~ C1 <-> I1 (Con*qt, Coff*qt)
    ~ C2 <-> I2 (Con*aa*qt, Coff/aa*qt)
    ~ C3 <-> I3 (Con*aa^2*qt, Coff/aa^2*qt)
    ~ C4 <-> I4 (Con*aa^3*qt, Coff/aa^3*qt)
    ~ C5 <-> I5 (Con*aa^4*qt, Coff/aa^4*qt)
    ~ O <-> I6 (Oon*qt, Ooff*qt)
    CONSERVE C1 + C2 + C3 + C4 + C5 + O + B + I1 + I2 + I3 + I4 + I5 + I6 = 1
}
PROCEDURE rates(v (mV)) {
    qt = q10^((celsius - 22)/10)
    aa = ((Oon/Con)/(Ooff/Coff))^(1/8)
    al = qt*alfac*exp(v/x1)
    bt = qt*btfac*exp(v/x2)
    ze = qt*zeta*exp(v/x3)
}
"""

STATES = "C1 C2 C3 C4 C5 O B I1 I2 I3 I4 I5 I6".split()
CELSIUS = 22.0


def texts() -> dict:
    hh = base.renamed(base.mod_text("hh.mod"), "hh", "hhx")
    return {"rbna.mod": RESURGENT_NA, "hhx.mod": hh}


MECHS = [("rbna", {}), ("hhx", {"gnabar": 0.0})]
GLOBALS = {"usetable_hhx": 0}
RECORD = {"rbna": STATES}


def timings(n_steps: int = 40) -> dict:
    """Seconds to trace+lower, compile and run one compartment's `simulate` (the
    13-state channel alone, `n_steps` steps), and the StableHLO size."""
    import jax
    import jax.numpy as jnp

    import neurojax as nj
    from neurojax.cable import Branch, Cell, Morphology
    from neurojax.nmodl import load_mod
    from neurojax.solvers import BackwardEuler

    ch = load_mod(RESURGENT_NA, file="rbna.mod")
    cell = Cell(Morphology([Branch(base.L, base.DIAM, nseg=1)]), [(ch, None)],
                temperature=CELSIUS, v_init=-65.0, clamps=[(0, 0.5)])  # fmt: skip
    inp = jnp.zeros((n_steps, 1))
    f = jax.jit(lambda c, i: nj.simulate(c, i, dt=base.DT, solver=BackwardEuler()).states)
    t0 = time.perf_counter()
    low = f.lower(cell, inp)
    t1 = time.perf_counter()
    hlo = low.as_text()
    comp = low.compile()
    t2 = time.perf_counter()
    jax.block_until_ready(comp(cell, inp))
    t3 = time.perf_counter()
    return {"lower_s": t1 - t0, "compile_s": t2 - t1, "run_s": t3 - t2,
            "hlo_chars": len(hlo), "hlo_lines": hlo.count("\n")}  # fmt: skip


def compare(tmp: Path) -> dict:
    """{protocol: {trace: (max |Δ|, mean |Δ|, NEURON's range)}}."""
    import jax

    ts = texts()
    dll = base.compile_mods(ts, tmp / "mods")
    out = {}
    with jax.enable_x64(True):
        for mode in base.protocols():
            ref = base.run_neuron(dll, MECHS, CELSIUS, GLOBALS, mode, RECORD, tmp)
            ours = base.run_neurojax(ts, MECHS, CELSIUS, mode, RECORD)
            out[mode] = {
                k: (
                    float(np.max(np.abs(ours[k] - ref[k]))),
                    float(np.mean(np.abs(ours[k] - ref[k]))),
                    float(np.ptp(ref[k])),
                )  # fmt: skip
                for k in ref
            }
    return out


if __name__ == "__main__":
    import jax

    with jax.enable_x64(True):
        print("timings (one compartment, 40 steps, float64):", timings())
    with tempfile.TemporaryDirectory() as d:
        res = compare(Path(d))
    for mode, r in res.items():
        print(mode)
        for k, (mx, mean, rng) in r.items():
            print(f"    {k:10s} max {mx:.3g}  mean {mean:.3g}  (NEURON range {rng:.3g})")
    sys.exit(0)
