"""Hay et al. (2011)'s layer-5b pyramidal cell: the published channel densities and
their distributions, on a morphology.

Hay E, Hill S, Schürmann F, Markram H, Segev I (2011). Models of neocortical layer 5b
pyramidal cells capturing a wide range of dendritic and perisomatic active properties.
PLoS Comput Biol 7:e1002107. The model "constrained both for BAC firing and current
step firing" (the one with the Ca²⁺ hot zone): its parameters (the paper's Table 1 and
Text S1) are written below as facts (the somatic values checked against a source; the
apical, basal and axonal ones not yet — see `docs/hay2011.md`); the eleven channels are
the `.mod` files of `neurojax/cable/data/hay2011/`, written here from the paper's
equations.

**Morphology.** Hay et al.'s reconstruction (cell #1) is not shipped with neurojax. The
default, `L5_SIMPLIFIED_SWC`, is a *simplified, generated* L5 pyramidal shape
(`_simplified_l5_points`, deterministic): a one-point soma (20 µm), five basal stems
each forking in two (160 µm), an apical trunk of 760 µm tapering 5 → 2.5 µm with six
oblique branches of ~200 µm, a main bifurcation at 760 µm into a three-level tuft (150
µm per level, 14 branches) reaching 1200 µm from the soma, and an axon (replaced by
Hay's two 30 µm stubs). It is *not* Hay's reconstruction: firing
patterns are qualitatively those of the paper (repetitive step firing; under the BAC
protocol a dendritic Ca²⁺ spike and a somatic burst), not its numbers — and here a
backpropagating AP alone already triggers the Ca²⁺ spike, which on Hay et al.'s
reconstruction takes the bAP and a distal EPSP together (docs/hay2011.md, with a sweep
of shapes from `_simplified_l5_points`'s keywords and the ones that do give BAC firing).
A second shipped shape, `hay2011_morphology(shape="bac")` (`L5_BAC_SWC`: the same cell
with a dense four-level tuft), gives BAC firing with Hay et al.'s timing (the stimuli
after ~300 ms at rest). Any SWC can be given instead: `hay2011_cell(hay2011_morphology(path))`.

Units: the mechanism parameters are NMODL's (S/cm², ms, µm, mM), as NEURON's and Hay et
al.'s; `cm` µF/cm², `ra` Ω·cm, distances µm.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ._morphology import Morphology

DATA = Path(__file__).parent / "data"
HAY2011_DIR = DATA / "hay2011"
L5_SIMPLIFIED_SWC = DATA / "l5_simplified.swc"
L5_BAC_SWC = DATA / "l5_simplified_bac.swc"

# The shipped shapes: name -> (SWC file, `_simplified_l5_points` keywords that generate it).
# "simplified" (the default): three tuft levels of 150 µm (8 tips); the bAP alone fires
# the Ca²⁺ spike. "bac": the same soma, basal tree, trunk, obliques and axon with a dense
# tuft of four levels of 75 µm forks (16 tips, 2.25 mm, daughters no thicker than their
# parent) on which Hay et al.'s BAC protocol at their timing gives BAC firing
# (docs/hay2011.md, with its margins; validation/hay2011_bac_morphology.py's `dense4_75`).
SHAPES = {
    "simplified": (L5_SIMPLIFIED_SWC, {}),
    "bac": (L5_BAC_SWC, dict(tuft_levels=4, tuft_length=75.0,
                             tuft_diam=((2.5, 2.2), (2.2, 2.0), (2.0, 1.6), (1.4, 1.0)))),
}  # fmt: skip

TEMPERATURE = 34.0  # °C (NEURON's celsius in Hay et al.'s runs)
V_INIT = -80.0  # mV
E_PAS = -90.0  # mV, every section
RA = 100.0  # Ω·cm, every section
IONS = {"ek": -85.0, "ena": 50.0}  # mV, where the channels using them are
HOT_ZONE = (685.0, 885.0)  # µm from the soma: Ca²⁺ channels ×10 (HVA) and ×100 (LVA)

# Uniform densities per region (S/cm²; CaDynamics_E2: gamma dimensionless, decay ms).
SOMATIC = {
    "pas": {"g": 0.0000338},
    "CaDynamics_E2": {"gamma": 0.000501, "decay": 460.0},
    "Ca_HVA": {"gCa_HVAbar": 0.000992},
    "Ca_LVAst": {"gCa_LVAstbar": 0.00343},
    "Ih": {"gIhbar": 0.0002},
    "K_Pst": {"gK_Pstbar": 0.00223},
    "K_Tst": {"gK_Tstbar": 0.0812},
    "NaTa_t": {"gNaTa_tbar": 2.04},
    "Nap_Et2": {"gNap_Et2bar": 0.00172},
    "SK_E2": {"gSK_E2bar": 0.0441},
    "SKv3_1": {"gSKv3_1bar": 0.693},
}
APICAL = {
    "pas": {"g": 0.0000589},
    "CaDynamics_E2": {"gamma": 0.000509, "decay": 122.0},
    "Ca_HVA": None,  # hot zone: 0.000555 inside, 0.0000555 outside
    "Ca_LVAst": None,  # hot zone: 0.0187 inside, 0.000187 outside
    "Ih": None,  # 0.0002·(−0.8696 + 2.087·exp(3.6161·d/d_max))
    "Im": {"gImbar": 0.0000675},
    "NaTa_t": {"gNaTa_tbar": 0.0213},
    "SK_E2": {"gSK_E2bar": 0.0012},
    "SKv3_1": {"gSKv3_1bar": 0.000261},
}
BASAL = {"pas": {"g": 0.0000467}, "Ih": {"gIhbar": 0.0002}}
AXONAL = {"pas": {"g": 0.0000325}}
CM = {"soma": 1.0, "axon": 1.0, "basal": 2.0, "apical": 2.0}  # µF/cm² (spines: ×2)

IH_PROFILE = (-0.8696, 2.087, 3.6161, 0.0002)  # a, b, c (per normalised distance), scale
LVA_ZONE = (0.0187, 0.01)  # density in the hot zone, factor outside
HVA_ZONE = (0.000555, 0.1)


def apical_max_distance(morph: Morphology, origin=(0, 0.0)) -> float:
    """The longest path (µm) from `origin` to the far end of an apical terminal branch —
    Hay et al.'s `getLongestBranch("apic")`, which normalises the Ih gradient."""
    disc = morph.discretise()
    d = disc.path_distances(origin)
    apical = morph.branches_where("apical")
    parents = {morph.branches[b].parent for b in range(len(morph))}
    ends = [disc.end[b] for b in apical if b not in parents]
    return float(max(d[ends]))


def hay2011_mechanisms(morph: Morphology, *, origin=(0, 0.0)) -> list:
    """Hay et al.'s mechanisms as `(suffix, region, parameters)`, NMODL names and units,
    one value or one per compartment of the region (in a `Cell`'s order) — the one
    description that `hay2011_cell` and a NEURON build share.

    Distances are path distances from `origin` (default the soma's 0 end: Hay et al.'s
    `soma distance()`). Apical: Ih `0.0002·(−0.8696 + 2.087·exp(3.6161·d/d_max))` S/cm²
    with `d_max = apical_max_distance(morph)`; Ca_LVAst 0.0187 S/cm² and Ca_HVA 0.000555
    S/cm² in the hot zone 685 < d < 885 µm, 1 % and 10 % of those elsewhere.

    The order within a region is NEURON's (`memb_order_`): the Ca²⁺ pool (which writes
    `cai`) first, then `pas`, then the rest by name — so SK_E2 reads the `cai` of the
    same step as in NEURON. `ValueError` if a region is missing from the morphology."""
    if not isinstance(morph, Morphology):  # a path was "'str' object has no attribute 'types'"
        raise TypeError(
            f"hay2011_mechanisms: morph must be a neurojax.cable.Morphology (e.g. "
            f"hay2011_morphology(path)), got {morph!r}."
        )
    for t in ("soma", "basal", "apical"):
        if t not in morph.types:
            raise ValueError(
                f"hay2011_mechanisms: the morphology has no {t!r} branch (types "
                f"{sorted(set(morph.types))}); Hay et al.'s cell needs soma, basal and apical."
            )
    d = np.asarray(morph.distances("apical", origin=origin))
    d_max = apical_max_distance(morph, origin)
    a, b, c, scale = IH_PROFILE
    lo, hi = HOT_ZONE
    inside = (d > lo) & (d < hi)  # Hay et al.'s strict inequalities
    apical = dict(APICAL)
    # (numpy, float64: `cable.exponential` is the same formula for traced parameters)
    apical["Ih"] = {"gIhbar": scale * (a + b * np.exp(c * d / d_max))}
    lva, lva_out = LVA_ZONE
    hva, hva_out = HVA_ZONE
    apical["Ca_LVAst"] = {"gCa_LVAstbar": np.where(inside, lva, lva * lva_out)}
    apical["Ca_HVA"] = {"gCa_HVAbar": np.where(inside, hva, hva * hva_out)}
    regions = [("soma", SOMATIC), ("basal", BASAL), ("apical", apical)]
    if "axon" in morph.types:
        regions.append(("axon", AXONAL))
    out = []
    for where, mechs in regions:
        order = sorted(mechs, key=lambda s: (s != "CaDynamics_E2", s != "pas", s))
        for suffix in order:
            params = dict(mechs[suffix])
            if suffix == "pas":
                params["e"] = E_PAS
            out.append((suffix, where, params))
    return out


def hay2011_morphology(path=None, *, shape: str | None = None, max_length: float = 40.0,
                       axon_stubs: bool = True):  # fmt: skip
    """The morphology as Hay et al. prepare it: the axon replaced by two 30 µm stubs (if
    it has one and `axon_stubs`), `nseg = 1 + 2·int(L/40)` (`max_length` µm).

    Which cell: an SWC file `path`, or one of the shipped *simplified, generated* L5
    shapes by name, `shape` (neither is Hay et al.'s reconstruction; `SHAPES`):

    - `"simplified"` (the default when neither is given; `L5_SIMPLIFIED_SWC`): a
      three-level tuft (8 tips); under the BAC protocol the bAP alone already fires the
      dendritic Ca²⁺ spike;
    - `"bac"` (`L5_BAC_SWC`): the same cell with a dense four-level tuft (16 tips) on
      which Hay et al.'s BAC protocol, at their timing (stimuli after ~300 ms at rest),
      gives BAC firing: bAP alone one spike, EPSP alone none, both a Ca²⁺ spike and a
      burst (docs/hay2011.md, with its margins).

    `ValueError` for an unknown `shape` or for both `path` and `shape`."""
    from ._swc import read_swc

    _real("hay2011_morphology", "max_length", max_length, "µm")
    if not isinstance(axon_stubs, (bool, np.bool_)):
        # a string such as "no" is truthy: the axon was replaced
        raise TypeError(
            f"hay2011_morphology: axon_stubs must be True or False, got {axon_stubs!r}."
        )
    if not max_length > 0:
        raise ValueError(f"hay2011_morphology: max_length must be > 0 µm, got {max_length}.")
    if shape is not None:
        if path is not None:
            raise ValueError(
                f"hay2011_morphology: give a path ({path!r}) or a shape ({shape!r}), not both."
            )
        if not isinstance(shape, str) or shape not in SHAPES:
            raise ValueError(
                f"hay2011_morphology: unknown shape {shape!r}; the shipped shapes are "
                f"{sorted(SHAPES)} (or give an SWC path)."
            )
        path = SHAPES[shape][0]
    elif isinstance(path, str) and path in SHAPES and not Path(path).exists():
        # hay2011_morphology("bac") was "No such file or directory: 'bac'"
        raise FileNotFoundError(
            f"hay2011_morphology: no SWC file {path!r}; for the shipped shape of that name "
            f"pass shape={path!r} (the first argument is a path)."
        )
    morph = read_swc(L5_SIMPLIFIED_SWC if path is None else path)
    if axon_stubs and "axon" in morph.types:
        morph = morph.replace_axon(length=30.0, n=2, max_length=max_length)
    return morph.with_nseg_by_length(max_length)


def hay2011_cell(morphology: Morphology | None = None, *, origin=(0, 0.0), v_init=V_INIT,
                 temperature=TEMPERATURE, **cell_kwargs):  # fmt: skip
    """Hay et al. (2011)'s L5b pyramidal cell as a `neurojax.cable.Cell`.

    - `morphology`: a `Morphology` with soma, basal and apical (and optionally axon)
      branches; default `hay2011_morphology()`, the *simplified* generated L5 shape
      (not Hay et al.'s reconstruction; module docstring).
    - `origin`: where distances are measured from (default the soma's 0 end).
    - `v_init` (mV, default −80), `temperature` (°C, default 34): as Hay et al.'s runs.
    - `cell_kwargs`: passed to `Cell` (`clamps`, `synapses`, `vclamps`,
      `point_processes`, `ions`, …).

    The mechanisms are `hay2011_mechanisms(morphology)`: the eleven `.mod` files of
    `HAY2011_DIR` loaded with `neurojax.nmodl.load_mod` (needs sympy, the `nmodl`
    extra) and `pas` as `cable.Passive` (g in mS/cm² = 1000 × S/cm²); cm 1 µF/cm² in
    soma and axon and 2 in the dendrites, ra 100 Ω·cm, `ek` −85 and `ena` 50 mV, `eca`
    by Nernst from `cai` (CaDynamics_E2 writes it; cai starts at NEURON's 5e-5 mM, cao
    2 mM). `cell.mechanisms[k]` and `cell.regions[k]` follow
    `hay2011_mechanisms(morphology)[k]`."""
    from ..channels import Passive
    from ..nmodl import mod_class
    from ._cell import Cell

    morph = hay2011_morphology() if morphology is None else morphology
    if not isinstance(morph, Morphology):
        raise TypeError(f"morphology must be a neurojax.cable.Morphology, got {morph!r}.")
    classes = {}
    mechanisms = []
    for suffix, where, params in hay2011_mechanisms(morph, origin=origin):
        if suffix == "pas":
            mech = Passive(g=np.asarray(params["g"]) * 1000.0, e=params["e"])
        else:
            if suffix not in classes:
                classes[suffix] = mod_class(HAY2011_DIR / f"{suffix}.mod")
            mech = classes[suffix](**params)
        mechanisms.append((mech, where))
    for key in ("cm", "ra", "ions"):
        if key in cell_kwargs:
            raise TypeError(f"hay2011_cell sets {key!r} itself (Hay et al.'s values).")
    return Cell(morph, mechanisms, cm=morph.values_by_type(
        {t: v for t, v in CM.items() if t in morph.types}, default=1.0), ra=RA,
        temperature=temperature, v_init=v_init, ions=dict(IONS), **cell_kwargs)  # fmt: skip


def site_at_distance(morph: Morphology, distance: float, where="apical", origin=(0, 0.0), *,
                     along="trunk"):  # fmt: skip
    """`(branch, x)` of the compartment whose centre is nearest to `distance` µm from
    `origin` along the tree, among the compartments of region `where` on the path from
    the soma to branch `along` (the branch and its ancestors). `along="trunk"` (default):
    the path to the apical tip farthest from the soma — the main trunk, then the tuft
    branch leading to that tip; `None`: anywhere in the region (for ties, the first in
    the Cell's order).

    `ValueError` for a `distance` that is negative, not finite, before the near end of
    the region or beyond its far end on the path (the nearest compartment would be far
    from the asked-for distance), and for an `along` that is not a branch of the cell."""
    _real("site_at_distance", "distance", distance, "µm")
    if distance < 0:
        raise ValueError(
            f"site_at_distance: distance={distance} µm is negative; path distances from "
            "the origin are >= 0 µm."
        )
    disc = morph.discretise()
    d = disc.path_distances(origin)
    branches = set(morph.branches_where(where))
    n_br = len(morph.branches)
    if (
        along is not None
        and along != "trunk"
        and (
            isinstance(along, (bool, str, bytes, np.bool_))
            or not isinstance(along, (int, np.integer))
            or not 0 <= along < n_br
        )
    ):
        raise ValueError(
            f"site_at_distance: along={along!r} must be 'trunk', None, or a branch index "
            f"0..{n_br - 1}."
        )
    along_given = along
    if along is not None:
        if along == "trunk":
            apical = morph.branches_where("apical")
            parents = {br.parent for br in morph.branches}
            tips = [b for b in apical if b not in parents]
            along = max(tips, key=lambda b: d[disc.end[b]])
        path, b = set(), int(along)
        while b >= 0:
            path.add(b)
            b = morph.branches[b].parent
        branches &= path
    nodes = disc.membrane[np.isin(disc.branch[disc.membrane], sorted(branches))]
    if nodes.size == 0:
        raise ValueError(
            f"site_at_distance: no compartment of {where!r} on the path from the soma to branch "
            f"{along} (along={'the apical trunk' if along_given == 'trunk' else along_given!r}); "
            f"pass along=None to search all of {where!r}, or a branch of {where!r} as along."
        )
    # the near and far ends of the searched region: the 0-end and 1-end nodes of its
    # branches (below the near end, the nearest compartment was returned without a word:
    # 0 µm along the apical trunk of the simplified L5 cell gave a site at 20 µm)
    searched = sorted({int(disc.branch[n]) for n in nodes})
    near = min(d[disc.start[b]] for b in searched)
    if distance < near:
        raise ValueError(
            f"site_at_distance: distance={distance} µm is before the start of {where!r} on "
            f"the path to branch {along} ({near:.6g} µm from the origin); ask for at least "
            f"{near:.6g} µm."
        )
    far = max(d[disc.end[b]] for b in searched)
    if distance > far:
        raise ValueError(
            f"site_at_distance: distance={distance} µm is beyond the end of {where!r} on the "
            f"path to branch {along} ({far:.6g} µm from the origin); ask for at most "
            f"{far:.6g} µm."
        )
    k = nodes[np.argmin(np.abs(d[nodes] - distance))]
    return int(disc.branch[k]), float(disc.x[k])


def _real(fn, name, value, unit):
    if (
        isinstance(value, (bool, str, bytes, np.bool_))
        or value is None
        or np.ndim(value) != 0
        or np.iscomplexobj(value)
    ):
        raise TypeError(f"{fn}: {name} must be a number ({unit}), got {value!r}.")
    if not np.isfinite(value):
        raise ValueError(f"{fn}: {name} must be finite ({unit}), got {value!r}.")


def epsp_current(t, onset, imax=0.5, tau_rise=0.5, tau_decay=5.0):
    """An EPSP-shaped injected current (nA): `imax·(e^{−s/τd} − e^{−s/τr})/p` for
    `s = t − onset ≥ 0` (0 before), `p` the peak of the difference so that the peak is
    `imax` (Hay et al.'s BAC protocol: 0.5 nA, rise 0.5 ms, decay 5 ms). t, onset ms.
    A NumPy function (float64): not traceable; build the input array outside `jax.jit`
    and `jax.grad` (`imax` scales it: multiply the unit-peak current by a traced one)."""
    import jax  # noqa: PLC0415

    for name, value in (("t", t), ("onset", onset), ("imax", imax), ("tau_rise", tau_rise),
                        ("tau_decay", tau_decay)):  # fmt: skip
        if isinstance(value, jax.core.Tracer):  # was JAX's TracerArrayConversionError
            raise TypeError(
                f"epsp_current: {name} is traced (jax.jit/grad/vmap); epsp_current is NumPy "
                "code: compute the current outside the transformation, or "
                "epsp_current(t, onset, imax=1.0) * imax for a traced amplitude."
            )
    for name, value, unit in (
        ("onset", onset, "ms"),
        ("imax", imax, "nA"),
        ("tau_rise", tau_rise, "ms"),
        ("tau_decay", tau_decay, "ms"),
    ):
        _real("epsp_current", name, value, unit)
    if not (tau_rise > 0 and tau_decay > 0) or tau_rise == tau_decay:
        raise ValueError(
            f"epsp_current: tau_rise={tau_rise} and tau_decay={tau_decay} ms must be > 0 "
            "and different (equal time constants have no difference of exponentials)."
        )
    if isinstance(t, (str, bytes)) or t is None:
        raise TypeError(f"epsp_current: t must be times in ms (a number or an array), got {t!r}.")
    t = np.asarray(t)
    if not (np.issubdtype(t.dtype, np.integer) or np.issubdtype(t.dtype, np.floating)):
        # a complex time lost its imaginary part, a string was parsed, a bool was 0/1 ms
        raise TypeError(f"epsp_current: t must be real times in ms, got dtype {t.dtype}.")
    t = t.astype(float)
    if not np.all(np.isfinite(t)):
        # a NaN time compared False with `onset` and gave 0 nA without a word
        raise ValueError(
            f"epsp_current: t must be finite times in ms; {int(np.sum(~np.isfinite(t)))} "
            "are NaN or inf."
        )
    # e^{-s/τd} − e^{-s/τr} = −e^{-s/τd}·expm1(−s·k), k = 1/τr − 1/τd, and the time of the
    # peak ln(τd/τr)/k by log1p: the plain difference lost every digit as τr → τd (τd/τr
    # = 1 + 1e-12: half the current; the limit is the alpha function (s/τ)·e^{1 − s/τ})
    k = (tau_decay - tau_rise) / (tau_rise * tau_decay)
    tp = np.log1p((tau_decay - tau_rise) / tau_rise) / k

    def diff(s):
        return -np.exp(-s / tau_decay) * np.expm1(-s * k)

    s = np.maximum(t - onset, 0.0)
    return np.where(t >= onset, imax * diff(s) / diff(tp), 0.0)


# ---------------------------------------------------------------- the simplified cell


def _simplified_l5_points(*, soma_diam: float = 20.0, n_basal: int = 5,
                          basal_length: float = 160.0, trunk_length: float = 760.0,
                          trunk_diam=(5.0, 2.5),
                          n_obliques: int = 6, oblique_length: float = 1.0,
                          oblique_diam=(1.2, 0.6),
                          tuft_levels: int = 3, tuft_length: float = 150.0,
                          tuft_diam=((2.5, 2.0), (1.4, 1.1), (0.9, 0.6))):  # fmt: skip
    """SWC rows `(id, type, x, y, z, radius, parent)` of the simplified L5 pyramidal
    cell (µm; y towards the pia). Deterministic; `L5_SIMPLIFIED_SWC` holds its output
    with the defaults (the shipped shape). The keywords describe variants of the shape
    (docs/hay2011.md's morphology sweep; `validation/hay2011_bac_morphology.py`):

    - a one-point soma of `soma_diam` µm;
    - `n_basal` stems of 50 µm, each forking into two branches of `basal_length` µm
      (diameters 1.3 → 1.1, then 0.9 → 0.5 µm), spread over 200°…340° (35° apart for 5);
    - an apical trunk of `trunk_length` µm along y, tapering `trunk_diam` (µm, soma end,
      bifurcation end); obliques at the trunk's joints (80, 180, …, 600 µm for the
      default 760 µm trunk, scaled with it), alternately left and right; `n_obliques`
      of them, more than six spread over the joints' interval; each ~200 µm ×
      `oblique_length` (a factor), diameters `oblique_diam` (µm, 1.2 → 0.6);
    - a tuft of `tuft_levels` levels of forks from the main bifurcation (2, 4, 8, …
      branches per level), `tuft_length` µm each, diameters per
      level `tuft_diam` (soma end, far end; the last pair repeats for extra levels);
    - an axon (60 µm, then two 200 µm branches; `hay2011_morphology` replaces it by
      Hay's stubs)."""
    if n_basal < 1 or n_obliques < 0 or tuft_levels < 1:
        raise ValueError(
            f"_simplified_l5_points: n_basal={n_basal} must be >= 1, n_obliques="
            f"{n_obliques} >= 0 and tuft_levels={tuft_levels} >= 1."
        )
    for name, value in (("soma_diam", soma_diam), ("basal_length", basal_length),
                        ("trunk_length", trunk_length), ("oblique_length", oblique_length),
                        ("tuft_length", tuft_length)):  # fmt: skip
        if not (np.isfinite(value) and value > 0):
            raise ValueError(f"_simplified_l5_points: {name}={value} must be > 0 (µm).")
    rows = [(1, 1, 0.0, 0.0, 0.0, soma_diam / 2, -1)]  # one-point soma

    def add(kind, parent, start, end, d0, d1, step_um=20.0):
        """Points from `start` (exclusive) to `end`, diameters d0 → d1; returns the last
        id."""
        start, end = np.asarray(start, float), np.asarray(end, float)
        n = max(1, int(round(np.linalg.norm(end - start) / step_um)))
        last = parent
        for k in range(1, n + 1):
            f = k / n
            p = start + f * (end - start)
            rows.append((len(rows) + 1, kind, *np.round(p, 3), round((d0 + f * (d1 - d0)) / 2, 4),
                         last))  # fmt: skip
            last = len(rows)
        return last, end

    # axon: 60 µm, then two 200 µm branches
    a, pa = add(2, 1, (0, 0, 0), (0, -70, 0), 1.6, 1.3)
    add(2, a, pa, (-60, -260, 0), 1.0, 0.8)
    add(2, a, pa, (60, -260, 0), 1.0, 0.8)
    # basal: stems of 50 µm, each forking into two of `basal_length`
    for k in range(n_basal):
        ang = np.deg2rad(200 + 140 / max(n_basal - 1, 1) * k)  # 35° apart for five
        u = np.array([np.cos(ang), np.sin(ang), 0.3 * np.sin(3 * ang)])
        u /= np.linalg.norm(u)
        s, ps = add(3, 1, (0, 0, 0), 50 * u, 1.3, 1.1, 10.0)
        for sgn in (-1, 1):
            v = u + 0.35 * sgn * np.array([-u[1], u[0], 0.0])
            add(3, s, ps, ps + basal_length * v / np.linalg.norm(v), 0.9, 0.5)
    # apical trunk along y, tapering, obliques at the joints
    base = [0.0, 80.0, 180.0, 280.0, 380.0, 480.0, 600.0, 760.0]
    joints = [y * trunk_length / 760.0 for y in base]  # exact for the default 760 µm
    if n_obliques == 6:
        at = joints[1:-1]
    else:  # spread over the same interval, one per trunk point where they coincide
        at = list(np.linspace(joints[1], joints[-2], n_obliques)) if n_obliques else []
        joints = sorted(set(joints) | set(at))
    obliques = {y: (-1) ** k for k, y in enumerate(at)}
    t0, t1 = trunk_diam
    last, pt = 1, np.zeros(3)
    for y in joints[1:]:
        dia = lambda yy: t0 + (t1 - t0) * yy / trunk_length  # noqa: E731
        last, pt = add(4, last, pt, (0, y, 0), dia(pt[1]), dia(y))
        if y in obliques:
            sgn = obliques[y]
            add(4, last, pt, pt + oblique_length * np.array([sgn * 170, 100, 30 * sgn]),
                *oblique_diam)

    # tuft: levels of forks, `tuft_length` µm each (2, 4, 8, … branches)
    diams = list(tuft_diam) + [tuft_diam[-1]] * max(0, tuft_levels - len(tuft_diam))

    def tuft(parent, p0, direction, level):
        d0, d1 = diams[level]
        end = p0 + tuft_length * direction / np.linalg.norm(direction)
        t, p1 = add(4, parent, p0, end, d0, d1)
        if level < tuft_levels - 1:
            for sgn in (-1, 1):
                tuft(t, p1, direction + sgn * np.array([0.45, 0.0, 0.25]), level + 1)

    for sgn in (-1, 1):
        tuft(last, pt, np.array([sgn * 0.55, 1.0, 0.0]), 0)
    return rows


_HEADERS = {
    "simplified": "a soma, five forked basal stems, a 760 um apical trunk with six obliques "
    "and a three-level tuft, an axon.",
    "bac": "the 'simplified' cell with a dense tuft (four levels of 75 um forks, 16 tips) "
    "on which Hay et al.'s BAC protocol gives BAC firing.",
}


def _write_simplified_l5_swc(shape: str = "simplified"):
    """Write the shipped SWC of `SHAPES[shape]` from the generator (how the files in
    `DATA` were made; the tests check they are reproduced)."""
    path, keywords = SHAPES[shape]
    rows = _simplified_l5_points(**keywords)
    lines = [
        "# Simplified layer-5 pyramidal cell, generated by neurojax "
        "(neurojax/cable/_hay2011.py: _simplified_l5_points"
        + ("" if not keywords else f", SHAPES[{shape!r}]") + ").",
        "# NOT a reconstruction and NOT Hay et al. (2011)'s cell #1: " + _HEADERS[shape],
        "# id type x y z radius parent (um)",
    ]
    lines += [f"{i} {t} {x:g} {y:g} {z:g} {r:g} {p}" for i, t, x, y, z, r, p in rows]
    Path(path).write_text("\n".join(lines) + "\n")
