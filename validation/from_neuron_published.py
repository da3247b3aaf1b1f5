"""`cable.from_neuron` on published NEURON cell models, run as their authors wrote them.

The models' files are not in this repository (their licences, and the rule that others'
code stays out of it): fetch them into a folder (default `/tmp/pubcells`, or
`$NEUROJAX_PUBCELLS`) as docs/from_neuron.md says, then

    python validation/from_neuron_published.py [model ...]

For each model: NEURON builds the cell from the published hoc (templates, `forsec`,
`distance()`, axon replacement, `celsius`, ...), `from_neuron` imports it as it stands,
and both simulators run the same somatic step current (backward Euler, dt 0.025 ms,
float64). Reported: sections, compartments, import time, max |ΔV| at the soma and at a
distal site, spike times of both.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(os.environ.get("NEUROJAX_PUBCELLS", "/tmp/pubcells"))
DT = 0.025
_loaded: set = set()


def _load_dll(h, mods: Path) -> None:
    """nrnivmodl the model's .mod folder (once) and load it into this NEURON."""
    import subprocess

    lib = mods / "x86_64" / "libnrnmech.so"
    if not lib.exists():
        nrnivmodl = Path(sys.executable).parent / "nrnivmodl"
        subprocess.run([str(nrnivmodl), "."], cwd=mods, check=True, capture_output=True)
    if str(lib) not in _loaded:
        h.nrn_load_dll(str(lib))
        _loaded.add(str(lib))


def spike_times(t: np.ndarray, v: np.ndarray, thresh: float = 0.0, dt: float = DT) -> np.ndarray:
    """Upward crossings of `thresh` mV, linearly interpolated (ms); `t` spaced by `dt`."""
    k = np.nonzero((v[:-1] < thresh) & (v[1:] >= thresh))[0]
    return t[k] + dt * (thresh - v[k]) / (v[k + 1] - v[k])


def build_hay2011(h):
    """Hay et al. (2011)'s L5PC (L5PCtemplate.hoc from ModelDB 149100, L5PCbiophys3.hoc)
    on neurojax's L5 shape read by NEURON's Import3d (SWC: the published cell1.asc is
    not fetched; the template's reader line is switched to Import3d_SWC_read)."""
    from neurojax.cable._hay2011 import L5_SIMPLIFIED_SWC

    d = ROOT / "hay"
    _load_dll(h, d / "mods")
    h.load_file("import3d.hoc")
    h.load_file(str(d / "models" / "L5PCbiophys3.hoc"))
    text = (d / "models" / "L5PCtemplate.hoc").read_text()
    text = text.replace("new Import3d_Neurolucida3()", "new Import3d_SWC_read()")
    tmp = d / "L5PCtemplate_swc.hoc"
    tmp.write_text(text)
    if not hasattr(h, "L5PCtemplate"):
        h.load_file(str(tmp))
    h.celsius = 34.0
    h.v_init = -80.0
    cell = h.L5PCtemplate(str(L5_SIMPLIFIED_SWC))
    secs = list(cell.all)
    soma = cell.soma[0]
    far = max(cell.apical, key=lambda s: h.distance(soma(0.5), s(1)))
    # neurojax imports the published K_Pst, K_Tst, NaTa_t (and NaTg) as they are: their v
    # assignments change the mechanism's own copy of v, as in NEURON (docs/nmodl.md)
    return dict(cell=cell, secs=secs, mods=d / "mods", soma=(soma, 0.5), distal=(far, 0.5),
                stim=(10.0, 200.0, 1.0), T=120.0, v_init=-80.0)  # fmt: skip


def build_hay2013(h):
    """Hay et al. (2013)'s p14 exemplar model (ModelDB 149100: L5PCtemplate.hoc,
    L5PCbiophys_p14_exemplar.hoc, NaTg.mod): its delete_axon2 replaces the axon by two
    tapered sections (`diam(0:1) = a:b`, no 3-d points) and a 1 mm myelin section that
    the template leaves out of its `all` list; on neurojax's L5 shape read by Import3d
    (SWC; see build_hay2011). The sections passed are `all` plus the myelin:
    `from_neuron(cell.all)` alone is refused, naming the myelin."""
    from neurojax.cable._hay2011 import L5_SIMPLIFIED_SWC

    d = ROOT / "hay2013"
    _load_dll(h, d / "mods")
    h.load_file("import3d.hoc")
    h.load_file(str(d / "models" / "L5PCbiophys_p14_exemplar.hoc"))
    text = (d / "models" / "L5PCtemplate.hoc").read_text()
    tmp = d / "L5PCtemplate_swc.hoc"
    tmp.write_text(text.replace("new Import3d_Neurolucida3()", "new Import3d_SWC_read()"))
    if not hasattr(h, "L5PCtemplate"):
        h.load_file(str(tmp))
    h.celsius = 34.0
    cell = h.L5PCtemplate(str(L5_SIMPLIFIED_SWC))
    secs = [*cell.all, cell.myelin[0]]
    soma = cell.soma[0]
    far = max(cell.apical, key=lambda s: h.distance(soma(0.5), s(1)))
    return dict(cell=cell, secs=secs, mods=d / "mods", soma=(soma, 0.5),
                distal=(far, 0.5), stim=(10.0, 200.0, 0.6), T=120.0, v_init=-80.0,
                refused=(list(cell.all), "myelin"))  # fmt: skip


def build_rtcl(h, consyn: int = 1):
    """A thalamic reticular cell with Cl⁻ dynamics (blabuva/RTCl: RE.tem, after Destexhe
    et al. 1996 with Sohal & Huguenard 2003's parameters): a template of three sections
    (`soma connect soma_flank[0](0), 0`: a child on the soma's 0 end), GHK-style T
    current, cai and cli written by `cad` and `cld` (ion `cl`, VALENCE −1, declared by
    the mechanisms), their initial values from `cai0_ca_ion`, `cli0_cl_ion`,
    `clo0_cl_ion`, and a GABA-A point process (`gabaaCl`, writing icl) driven by a
    NetStim. The cell's arguments and the globals are chosen here (their net.hoc was
    not fetched)."""
    d = ROOT / "rtcl"
    _load_dll(h, d / "mods")
    h.load_file(str(d / "RE.tem"))
    h.celsius = 31.0
    h.cai0_ca_ion, h.cli0_cl_ion, h.clo0_cl_ion = 2.4e-4, 8.0, 132.5
    cell = h.REcell(3, 1, 0, consyn, 32.0, -70.0, 10.0)
    secs = [cell.soma[0], cell.soma_flank[0], cell.soma_flank[1]] if consyn else [cell.soma[0]]
    syn = h.gabaaCl(cell.soma[0](0.5))
    syn.gpeak = 0.02
    ns = h.NetStim()
    ns.start, ns.interval, ns.number, ns.noise = 30.0, 7.0, 8, 0
    nc = h.NetCon(ns, syn)
    nc.delay, nc.weight[0] = 1.0, 1.0
    return dict(secs=secs, mods=d / "mods", soma=(cell.soma[0], 0.5),
                distal=(secs[-1], 1.0), stim=(5.0, 20.0, 0.05), T=150.0,
                v_init=-70.0, keep=(cell, syn, ns, nc))  # fmt: skip


def build_ms96(h, ion_style: bool = True):
    """Mainen & Sejnowski (1996)'s cell building (ModelDB 2488 demofig1.hoc's
    load_3dcell: nseg by 50 µm, the axon of hillock, initial segment, myelin and nodes,
    spines folded into dendritic L and diam, ion_style for Ca²⁺, GLOBAL vshift_na set in
    hoc, celsius 37) on NEURON's demo pyramid (ntscable output, like ModelDB 2488's
    cells/*.hoc). With the model's `ion_style("ca_ion",0,1,0,0,0)` (eca fixed at 140 mV
    while cad writes cai: `Cell(fixed_reversal=("ca",))`, which from_neuron maps it to);
    `ion_style=False` leaves it out (eca by Nernst from cai, NEURON's default)."""
    import neuron

    d = ROOT / "ms96"
    _load_dll(h, d / "mods")
    h.load_file(str(d / "ms96_demofig1.hoc"))
    h.ms96_ion_style = 1 if ion_style else 0
    demo = Path(neuron.__file__).parent / ".data" / "share" / "nrn" / "demo" / "pyramid.nrn"
    h.load_3dcell(str(demo))
    for mech in ("na", "kv", "km", "ca"):
        setattr(h, f"usetable_{mech}", 0)
    secs = list(h.allsec())
    soma = h.soma
    far = max((s for s in secs if s.name().startswith("dendrite")),
              key=lambda s: h.distance(soma(0.5), s(1)))  # fmt: skip
    return dict(secs=secs, mods=d / "mods", soma=(soma, 0.5), distal=(far, 0.5),
                stim=(5.0, 900.0, 0.2), T=150.0, v_init=-70.0)  # fmt: skip


MODELS = {
    "hay2011": build_hay2011,
    "hay2013": build_hay2013,
    "rtcl": lambda h: {**build_rtcl(h), "neuron_slope": True},
    "rtcl_exact_slope": build_rtcl,
    "ms96": build_ms96,
    "ms96_no_ion_style": lambda h: build_ms96(h, ion_style=False),
}


def compare(
    name: str,
    models: dict | None = None,
    *,
    self_check: bool = False,
    dt_check: bool = False,
    dt: float = DT,
) -> dict:
    """Run model `name` of `models` (default: this file's MODELS) in NEURON and, imported
    by `from_neuron`, in neurojax: the driver of all from_neuron_published*.py scripts.

    A builder returns `secs`, `mods`, `soma` and `distal` (section, x), `stim` (delay,
    duration, amplitude of a somatic IClamp), `T`, `v_init`, and optionally
    `neuron_slope`, `spike_times` (passed to from_neuron), `refusal` (a part of the
    message from_neuron must refuse the cell with), `refused` (a wrong section list and
    a part of its refusal), `keep` (objects to keep alive). `self_check=True` adds the
    number of events and NEURON against itself with the step's amplitude changed by
    1e-14 (relative); `dt_check=True` adds NEURON's own dt error: NEURON at dt/10
    against NEURON at dt, at the soma and the distal site. `dt` (default 0.025 ms): the
    step both simulators take."""
    DT = dt  # noqa: N806  (this comparison's step; the module's DT is the default)
    import jax
    import jax.numpy as jnp
    from neuron import h

    import neurojax as nj
    from neurojax.cable import from_neuron
    from neurojax.solvers import BackwardEuler

    h.load_file("stdrun.hoc")
    m = (MODELS if models is None else models)[name](h)
    (soma, xs), (far, xf) = m["soma"], m["distal"]
    ic = h.IClamp(soma(xs))
    ic.delay, ic.dur, ic.amp = m["stim"]
    rec = [h.Vector().record(soma(xs)._ref_v), h.Vector().record(far(xf)._ref_v)]
    kw = dict(mods=m["mods"], v_init=m["v_init"], neuron_slope=m.get("neuron_slope", False),
              spike_times=m.get("spike_times"))  # fmt: skip
    if m.get("refusal"):  # what neurojax cannot carry over is refused, naming it
        try:
            from_neuron(m["secs"], **kw)
        except Exception as e:  # noqa: BLE001  (ValueError, or the NMODL importer's NmodlError)
            assert m["refusal"] in str(e), e
            return {"model": name, "sections": len(m["secs"]), "refused": str(e)}
        raise AssertionError(f"{name}: {m['refusal']} not refused")
    if "refused" in m:  # a wrong list of sections is refused, naming what is missing
        wrong, part = m["refused"]
        try:
            from_neuron(wrong, mods=m["mods"], v_init=m["v_init"])
        except ValueError as e:
            assert part in str(e), e
        else:
            raise AssertionError(f"{part}: not refused")
    t0 = time.process_time()
    with jax.enable_x64(True):
        imp = from_neuron(m["secs"], **kw)
    t_import = time.process_time() - t0
    n = int(round(m["T"] / DT))

    # NEURON keeps ASSIGNED values across finitialize: a mechanism that reads one in
    # INITIAL before computing it (Bezaire's ch_KCaS: `q = qinf`, then rate()) starts a
    # second run elsewhere than the first. Every run starts from the cell's RANGE values
    # as they were before the first (the ones from_neuron imported).
    before = [(sec, sec.psection()["density_mechs"]) for sec in m["secs"]]

    def neuron_run(dt: float = DT) -> np.ndarray:
        """NEURON's backward-Euler run: soma and distal V at (k + 1)·DT, k < n."""
        for sec, mechs in before:
            for mech, values in mechs.items():
                for var, per_seg in values.items():
                    for seg, x in zip(sec, per_seg, strict=True):
                        if isinstance(x, float):  # (RANGE arrays left as they are)
                            setattr(getattr(seg, mech), var, x)
        h.dt, h.secondorder = dt, 0
        h.finitialize(m["v_init"])
        h.continuerun(m["T"])
        sub = int(round(DT / dt))
        return np.stack([np.asarray(r)[sub : n * sub + 1 : sub] for r in rec], axis=1)

    ref = neuron_run()
    with jax.enable_x64(True):
        cell = imp.cell
        sites = [imp.site(soma.name(), xs), imp.site(far.name(), xf)]
        save = nj.SaveAt(fn=cell.record_v(sites))
        u = jax.tree.map(jnp.asarray, imp.inputs(n, DT))  # NetStims' events in a dict
        sol = nj.simulate(cell, u, dt=DT, solver=BackwardEuler(), saveat=save)
        got = np.asarray(sol.states, np.float64)
    t = (np.arange(n) + 1) * DT
    sp_ref, sp_got = spike_times(t, ref[:, 0], dt=DT), spike_times(t, got[:, 0], dt=DT)
    out = {
        "model": name,
        "dt_ms": DT,
        "sections": len(m["secs"]),
        "compartments": int(sum(int(s.nseg) for s in m["secs"])),
        "distal": f"{far.name()}({xf}) at {h.distance(soma(xs), far(xf)):.0f} um",
        "import_cpu_s": round(t_import, 2),
        "max_dv_soma_mV": float(np.max(np.abs(got[:, 0] - ref[:, 0]))),
        "mean_dv_soma_mV": float(np.mean(np.abs(got[:, 0] - ref[:, 0]))),
        "max_dv_distal_mV": float(np.max(np.abs(got[:, 1] - ref[:, 1]))),
        "spikes_neuron_ms": sp_ref.round(4).tolist(),
        "max_dspike_ms": (
            float(np.max(np.abs(sp_got - sp_ref)))
            if len(sp_got) == len(sp_ref) and len(sp_ref)
            else None
        ),  # fmt: skip
        "n_spikes": (len(sp_ref), len(sp_got)),
    }
    if self_check:
        out["events"] = int(sum(len(x) for x in imp.netstims))
        # NEURON against itself with the step's amplitude changed by 1e-14 (relative, a
        # few units in the last place): how far round-off-sized differences grow here
        ic.amp = m["stim"][2] * (1 + 1e-14)
        out["neuron_vs_itself_mV"] = float(np.max(np.abs(neuron_run()[:, 0] - ref[:, 0])))
        ic.amp = m["stim"][2]
    if dt_check:  # NEURON's own time-step error at DT: against NEURON at DT / 10
        fine = neuron_run(DT / 10)
        out["neuron_dt_error_soma_mV"] = float(np.max(np.abs(fine[:, 0] - ref[:, 0])))
        out["neuron_dt_error_distal_mV"] = float(np.max(np.abs(fine[:, 1] - ref[:, 1])))
        sp_fine = spike_times(t, fine[:, 0], dt=DT)
        out["neuron_dt_dspike_ms"] = (
            float(np.max(np.abs(sp_fine - sp_ref))) if len(sp_fine) == len(sp_ref) and len(sp_ref)
            else f"{len(sp_fine)} spikes at dt {DT / 10:g}, {len(sp_ref)} at {DT:g}"
        )  # fmt: skip
    return out


def main(script: str, models: dict, **kw) -> None:
    """`python script [model ...]`: compare the models named (default: all), each in its
    own NEURON (their .mod files share names); `kw` go to `compare`."""
    import subprocess

    names = sys.argv[1:] or list(models)
    if len(names) == 1:
        print(compare(names[0], models, **kw), flush=True)
    else:
        for name in names:
            subprocess.run([sys.executable, script, name], check=False)


if __name__ == "__main__":
    main(__file__, MODELS)
