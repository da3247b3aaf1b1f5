"""Reference traces for the cable channels Ih and Im from NEURON, written once to
`tests/data/cable/channels_reference.npz` (the test then needs no compiler).

The two mechanisms are the published `Ih.mod` and `Im.mod` of Hay et al. (2011)
(ModelDB 139653), re-typed below with their equations unchanged; `nrnivmodl` compiles
them in a temporary folder. Run from the repository root:

    python validation/make_cable_reference.py

Cell: an HH soma (20 × 20 µm, nseg 1) and a passive dendrite (300 × 1.5 µm, nseg 11)
carrying Ih and Im, Ra = 150 Ω·cm, backward Euler (secondorder = 0) at dt = 0.025 ms,
a 0.2 nA step into the soma from 10 to 60 ms and a −0.3 nA step from 80 to 140 ms; V at
soma(0.5), dend(0.5) and dend(1).
"""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

IH_MOD = """
NEURON  { SUFFIX Ih  NONSPECIFIC_CURRENT ihcn  RANGE gIhbar, ehcn }
UNITS   { (S) = (siemens) (mV) = (millivolt) (mA) = (milliamp) }
PARAMETER { gIhbar = 0.00001 (S/cm2) ehcn = -45.0 (mV) }
ASSIGNED { v (mV) ihcn (mA/cm2) mInf mTau mAlpha mBeta }
STATE { m }
BREAKPOINT { SOLVE states METHOD cnexp  ihcn = gIhbar*m*(v-ehcn) }
DERIVATIVE states { rates()  m' = (mInf-m)/mTau }
INITIAL { rates()  m = mInf }
PROCEDURE rates() {
  UNITSOFF
  if (v == -154.9) { v = v + 0.0001 }
  mAlpha = 0.001*6.43*(v+154.9)/(exp((v+154.9)/11.9)-1)
  mBeta = 0.001*193*exp(v/33.1)
  mInf = mAlpha/(mAlpha + mBeta)
  mTau = 1/(mAlpha + mBeta)
  UNITSON
}
"""

IM_MOD = """
NEURON  { SUFFIX Im  USEION k READ ek WRITE ik  RANGE gImbar }
UNITS   { (S) = (siemens) (mV) = (millivolt) (mA) = (milliamp) }
PARAMETER { gImbar = 0.00001 (S/cm2) }
ASSIGNED { v (mV) ek (mV) ik (mA/cm2) mInf mTau mAlpha mBeta }
STATE { m }
BREAKPOINT { SOLVE states METHOD cnexp  ik = gImbar*m*(v-ek) }
DERIVATIVE states { rates()  m' = (mInf-m)/mTau }
INITIAL { rates()  m = mInf }
PROCEDURE rates() {
  LOCAL qt
  qt = 2.3^((34-21)/10)
  UNITSOFF
  mAlpha = 3.3e-3*exp(2.5*0.04*(v - -35))
  mBeta = 3.3e-3*exp(-2.5*0.04*(v - -35))
  mInf = mAlpha/(mAlpha + mBeta)
  mTau = (1/(mAlpha + mBeta))/qt
  UNITSON
}
"""

# parameters shared with tests/test_cable_channels.py
DT, T = 0.025, 150.0
G_IH, G_IM = 0.0008, 0.0005  # S/cm² (mS/cm²: 0.8, 0.5)
E_K = -85.0


def run():
    from neuron import h

    h.load_file("stdrun.hoc")
    soma = h.Section(name="soma")
    soma.L = soma.diam = 20.0
    soma.insert("hh")
    dend = h.Section(name="dend")
    dend.L, dend.diam, dend.nseg = 300.0, 1.5, 11
    dend.insert("pas")
    dend.insert("Ih")
    dend.insert("Im")
    for seg in dend:
        seg.pas.g, seg.pas.e = 1e-4, -65.0
        seg.Ih.gIhbar = G_IH
        seg.Im.gImbar = G_IM
        seg.ek = E_K
    dend.connect(soma(1), 0)
    for s in (soma, dend):
        s.Ra, s.cm = 150.0, 1.0
    h.usetable_hh = 0
    h.celsius = 6.3
    stims = []
    for delay, dur, amp in ((10.0, 50.0, 0.2), (80.0, 60.0, -0.3)):
        st = h.IClamp(soma(0.5))
        st.delay, st.dur, st.amp = delay, dur, amp
        stims.append(st)
    sites = [(soma, 0.5), (dend, 0.5), (dend, 1.0)]
    recs = [h.Vector().record(s(x)._ref_v) for s, x in sites]
    h.dt, h.secondorder = DT, 0
    h.finitialize(-65.0)
    h.continuerun(T)
    return np.array([np.array(r)[1:] for r in recs]).T


def main():
    out = (
        Path(__file__).resolve().parents[1] / "tests" / "data" / "cable" / "channels_reference.npz"
    )
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "Ih.mod").write_text(IH_MOD)
        Path(tmp, "Im.mod").write_text(IM_MOD)
        subprocess.run(["nrnivmodl"], cwd=tmp, check=True, capture_output=True)
        # the compiled mechanisms load when NEURON starts in that folder: run in a child
        code = (
            f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); "
            "import numpy as np, make_cable_reference as m; "
            f"np.save({str(Path(tmp, 'v.npy'))!r}, m.run())"
        )
        subprocess.run([sys.executable, "-c", code], cwd=tmp, check=True, env=os.environ)
        v = np.load(Path(tmp, "v.npy"))
    np.savez_compressed(out, v=v, dt=DT, t_stop=T, g_ih=G_IH, g_im=G_IM, e_k=E_K)
    print(f"wrote {out}: {v.shape}, V range {v.min():.2f} .. {v.max():.2f} mV")


if __name__ == "__main__":
    main()
