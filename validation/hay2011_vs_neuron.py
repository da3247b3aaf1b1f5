"""Hay et al. (2011)'s channels, as written here from the paper's equations
(`neurojax/cable/data/hay2011/*.mod`), against NEURON compiling the same files.

One compartment (L = diam = 10 µm) at 34 °C, backward Euler at dt = 0.025 ms, current
clamp and voltage clamp (`nmodl_vs_neuron.py`'s protocols), the wheel's passive.mod as
leak (g 3e-5 S/cm², e −90 mV), `ek` −85 and `ena` 50 mV as in the model; densities of
the order of Hay et al.'s somatic ones. Every one of the 11 mechanisms is in one case.

    python validation/hay2011_vs_neuron.py      # prints max/mean |Δ| per case and trace
"""

from __future__ import annotations

import importlib.util
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).parent
HAY = HERE.parent / "neurojax" / "cable" / "data" / "hay2011"


def _ions_validation():
    spec = importlib.util.spec_from_file_location("nmodl_ions_vs_neuron",
                                                  HERE / "nmodl_ions_vs_neuron.py")  # fmt: skip
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


iv = _ions_validation()
IONS = {"ek": -85.0, "ena": 50.0}
PAS = ("pasx", {"g": 3e-5, "e": -90.0})


def cases() -> dict:
    def files(*names):
        out = {f"{n}.mod": (HAY / f"{n}.mod").read_text() for n in names}
        out["pasx.mod"] = iv.base.renamed(iv.base.mod_text("passive.mod"), "pas", "pasx")
        return out

    return {
        "NaTa_t + SKv3_1 + Ih + pas": (
            files("NaTa_t", "SKv3_1", "Ih"),
            [("NaTa_t", {"gNaTa_tbar": 2.04}), ("SKv3_1", {"gSKv3_1bar": 0.693}),
             ("Ih", {"gIhbar": 8e-5}), PAS],
            34.0, {}, IONS,
        ),
        "Nap_Et2 + K_Pst + K_Tst + Im + NaTa_t + pas": (
            files("Nap_Et2", "K_Pst", "K_Tst", "Im", "NaTa_t"),
            [("Nap_Et2", {"gNap_Et2bar": 0.0172}), ("K_Pst", {"gK_Pstbar": 0.1}),
             ("K_Tst", {"gK_Tstbar": 0.08}), ("Im", {"gImbar": 0.001}),
             ("NaTa_t", {"gNaTa_tbar": 0.5}), PAS],
            34.0, {}, IONS,
        ),
        "Ca_HVA + Ca_LVAst + CaDynamics_E2 + SK_E2 + NaTa_t + SKv3_1 + pas": (
            files("Ca_HVA", "Ca_LVAst", "CaDynamics_E2", "SK_E2", "NaTa_t", "SKv3_1"),
            [("Ca_HVA", {"gCa_HVAbar": 0.000992}), ("Ca_LVAst", {"gCa_LVAstbar": 0.00343}),
             ("CaDynamics_E2", {"gamma": 0.000609, "decay": 210.0}),
             ("SK_E2", {"gSK_E2bar": 0.0441}), ("NaTa_t", {"gNaTa_tbar": 2.04}),
             ("SKv3_1", {"gSKv3_1bar": 0.693}), PAS],
            34.0, {}, IONS,
        ),
    }  # fmt: skip


def compare_all(tmp: Path, names=None) -> dict:
    return iv.compare_all(tmp, names, all_cases=cases())


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as d:
        res = compare_all(Path(d), sys.argv[1:] or None)
    for (name, mode), r in res.items():
        lo, hi = r.pop("_vrange")
        r.pop("_e_init")
        print(f"{name} — {mode} (NEURON V in [{lo:.1f}, {hi:.1f}] mV)")
        for k, (mx, mean) in r.items():
            print(f"    {k:22s} max {mx:.3g}  mean {mean:.3g}")
