"""Ion pools of a cable `Cell`: one shared pool per ion and node, as NEURON's `na_ion`,
`k_ion`, `ca_ion`, … (`nrn/src/nrnoc/eion.cpp`). A mechanism declares the ions it uses
as `neurojax.channels._ions` says (`ion_use`, `init_ions`, `current_ions`, `update_ions`).

**NEURON's rules** (`nrn_promote`), per node, over the mechanisms inserted there:

- a concentration is a *parameter* (the cell's value, fixed) unless a mechanism WRITEs
  `<ion>i` or `<ion>o`; then both are *states*, starting from the cell's values (NEURON's
  `cai0_ca_ion`, `cao0_ca_ion`), changed only by the mechanisms that write them;
- the reversal potential is the cell's fixed value, unless some mechanism at the node
  reads or writes a concentration of that ion: then it is computed by the Nernst equation
  `e = (R·(celsius + 273.15)/(z·F))·ln(co/ci)` — at initialisation, after each mechanism's
  INITIAL that writes a concentration, and at the start of every step (it is then held
  for the whole step, as NEURON's `ion_cur`);
- the ion's total current `i<ion>` is the sum of the currents the mechanisms WRITE,
  computed at the start of each step in mechanism order (a mechanism READing it in its
  current sees the sum of those before it; in its state update, the full sum);
- the INITIALs and the state updates run in mechanism order, each seeing the
  concentrations written by the ones before it. NEURON's order (`memb_order_`, set by
  `nrn_writes_conc`): the mechanisms that write a concentration first, in reverse
  registration order, then the others in registration order (nrnivmodl's file order,
  built-ins first) — list the mechanisms so to reproduce a NEURON run step for step;
- a mechanism may WRITE the reversal potential (Santhakumar et al.'s ccanl.mod: `enca =
  eca`): NEURON's `nrn_promote(…, 3)` then turns einit and eadvance off at its nodes, so
  there `e` is never Nernst's — it is the cell's value until the mechanism's INITIAL or
  state update writes it, carried from step to step as a state, read by the
  mechanisms after the writer (and, at the next step, by all);
- `diam` (µm, a segment's mean diameter) and `area` (µm²) are given to the mechanisms
  that read them (NMODL's `diam`, `area`), as NEURON's.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from .._gather import apply, spread_map, take_map
from ..channels._ions import BUILTIN_IONS, ion_variables, nernst


class IonLayout:
    """Static ion bookkeeping of a cell (numpy): the ions, their valences, where each
    reversal potential is computed by Nernst, which concentrations are states."""

    def __init__(self, mechanisms, regions, n_nodes: int):
        uses = [tuple(getattr(type(ch), "ion_use", ()) or ()) for ch in mechanisms]
        self.uses = uses
        self.charge: dict[str, float] = {}
        conc_used = {}  # ion -> nodes where a concentration is read or written
        conc_written = {}  # ion -> set of written concentration names
        written_by = {}  # concentration name -> [mechanism indices]
        used = {}  # ion -> nodes where the ion is used at all
        e_written = {}  # ion -> nodes where a mechanism WRITEs its reversal potential
        for k, (ion_uses, nodes) in enumerate(zip(uses, regions, strict=True)):
            for u in ion_uses:
                e, ci, co, i = ion_variables(u.ion)
                if e in u.write:
                    e_written.setdefault(u.ion, set()).update(nodes.tolist())
                z = u.valence
                if u.ion in BUILTIN_IONS:
                    zb = BUILTIN_IONS[u.ion][0]
                    if z is not None and z != zb:
                        raise ValueError(
                            f"mechanism {k} ({type(mechanisms[k]).__name__}) declares VALENCE "
                            f"{z:g} for {u.ion}, whose valence is {zb:g}."
                        )
                    z = zb
                if z is not None:
                    if u.ion in self.charge and self.charge[u.ion] != z:
                        raise ValueError(
                            f"ion {u.ion} has valence {self.charge[u.ion]:g} in one mechanism and "
                            f"{z:g} in mechanism {k} ({type(mechanisms[k]).__name__})."
                        )
                    self.charge[u.ion] = float(z)
                used.setdefault(u.ion, set()).update(nodes.tolist())
                touched = {ci, co} & set(u.read + u.write)
                if touched:
                    conc_used.setdefault(u.ion, set()).update(nodes.tolist())
                for c in {ci, co} & set(u.write):
                    conc_written.setdefault(u.ion, set()).add(c)
                    written_by.setdefault(c, []).append(k)
        self.ions = tuple(sorted(used))
        self.used_nodes = {ion: np.array(sorted(n), dtype=np.int64) for ion, n in used.items()}
        # reversal potential from Nernst where a concentration of the ion is used
        self.nernst_mask = {}
        for ion in self.ions:
            m = np.zeros(n_nodes, dtype=bool)
            m[sorted(conc_used.get(ion, ()))] = True
            # a written reversal potential (NEURON's nrn_promote(…, 3): neither einit nor
            # eadvance) is never Nernst's where a mechanism writes it
            m[sorted(e_written.get(ion, ()))] = False
            self.nernst_mask[ion] = m
        # an ion no mechanism gives a valence (Filipis et al.'s skbk.mod: `USEION lca READ
        # lcai`): NEURON runs it and needs the charge only for Nernst's reversal potential
        # (its `ion_charge` fails there). Refused only where a mechanism reads that
        # reversal potential at a node where Nernst computes it; elsewhere the reversal
        # potential is never seen, so it is not computed (the cell's value stays).
        for ion in self.ions:
            if ion in self.charge:
                continue
            e = ion_variables(ion)[0]
            for k, (ion_uses, nodes) in enumerate(zip(uses, regions, strict=True)):
                if any(u.ion == ion and e in u.read for u in ion_uses) and \
                        self.nernst_mask[ion][nodes].any():  # fmt: skip
                    raise ValueError(
                        f"ion {ion!r} has no valence, and mechanism {k} "
                        f"({type(mechanisms[k]).__name__}) reads its reversal potential {e}, "
                        f"which NEURON's rule computes by the Nernst equation there (a "
                        f"mechanism at those nodes reads or writes a {ion} concentration): "
                        f"give the valence in one of the mechanisms using {ion} (NMODL: "
                        f"USEION {ion} ... VALENCE z), as NEURON requires for Nernst."
                    )
            self.nernst_mask[ion][:] = False
        # a written concentration makes both concentrations of the ion states; a written
        # reversal potential is a state too (kept from step to step)
        self.state_names = tuple(
            name for ion in self.ions if ion in conc_written for name in ion_variables(ion)[1:3]
        ) + tuple(ion_variables(ion)[0] for ion in self.ions if ion in e_written)
        self.e_written = {ion: np.array(sorted(n), dtype=np.int64) for ion, n in e_written.items()}
        self.written_by = written_by
        # the ion variables each mechanism reads or writes (concentrations), in order,
        # and the geometry it reads (NMODL's `diam`, `area`)
        geometry = [tuple(getattr(type(ch), "geometry_use", ()) or ()) for ch in mechanisms]
        self.geometry = tuple(sorted({g for gs in geometry for g in gs}))
        self.inputs = []
        for ion_uses, geo in zip(uses, geometry, strict=True):
            names = []
            for u in ion_uses:
                e, ci, co, i = ion_variables(u.ion)
                names += [n for n in u.read if n not in names]
                names += [n for n in u.write if n in (e, ci, co) and n not in names]
            self.inputs.append(tuple(names) + geo)
        # the mechanisms that take values from the pools (ions or geometry)
        self.pooled = [bool(u) or bool(g) for u, g in zip(uses, geometry, strict=True)]

    def __hash__(self):
        return id(self)

    def __eq__(self, other):
        return self is other

    @property
    def any(self) -> bool:
        return bool(self.ions) or bool(self.geometry)

    def value_names(self) -> tuple[str, ...]:
        """The cell's ion values: e, ci, co of every ion used."""
        return tuple(n for ion in self.ions for n in ion_variables(ion)[:3])


def _to_nodes(x, spread):
    """Values on a region `(..., n_region)` → all nodes, zero elsewhere (a gather)."""
    # a gather whose transpose is a gather (no scatter in the step's gradient: _gather.py)
    return apply(spread_map(spread, x.shape[-1]), x)


class Pool:
    """The ion pools of one step (or of the initialisation), while JAX traces: the
    values of every ion variable at every node, `(*batch, n_nodes)`, updated in place in
    mechanism order."""

    def __init__(self, layout: IonLayout, node_values: dict, states: dict | None, celsius,
                 shape, dtype):  # fmt: skip
        self.layout = layout
        self.celsius = celsius
        self.x = {}
        for ion in layout.ions:
            e, ci, co, i = ion_variables(ion)
            for c in (e, ci, co):  # (e: a state where a mechanism writes it)
                if states and c in states:
                    self.x[c] = jnp.asarray(states[c], dtype)
                else:
                    self.x[c] = jnp.broadcast_to(jnp.asarray(node_values[c], dtype), shape)
            self.x[i] = jnp.zeros(shape, dtype)
            self.refresh(ion)
        for g in layout.geometry:  # diam, area: constants per node
            self.x[g] = jnp.asarray(node_values[g], dtype)

    def refresh(self, ion):
        """Reversal potential by Nernst where NEURON's rule computes it."""
        mask = self.layout.nernst_mask[ion]
        if mask.any():
            e, ci, co, _ = ion_variables(ion)
            en = nernst(self.x[ci], self.x[co], self.layout.charge[ion], self.celsius)
            self.x[e] = jnp.where(mask, en.astype(self.x[e].dtype), self.x[e])

    def at(self, k: int, nodes) -> dict:
        """The ion values mechanism `k` reads or writes, at its compartments."""
        return {n: apply(take_map(nodes, self.x[n].shape[-1]), self.x[n])
                for n in self.layout.inputs[k]}  # fmt: skip

    def add_current(self, name, x, spread):
        self.x[name] = self.x[name] + _to_nodes(jnp.asarray(x, self.x[name].dtype), spread)

    def write(self, name, x, spread, n_region):
        mask = spread < n_region
        x = _to_nodes(jnp.asarray(x, self.x[name].dtype), spread)
        self.x[name] = jnp.where(mask, x, self.x[name])

    def wrote(self, names):
        """After an INITIAL wrote concentrations: NEURON's `nrn_wrote_conc` (Nernst again,
        where einit is on: not where a mechanism writes the reversal potential). `names`:
        the variables written (a reversal potential among them starts nothing)."""
        for ion in self.layout.ions:
            e, ci, co, _ = ion_variables(ion)
            if {ci, co} & set(names):
                self.refresh(ion)

    def states(self) -> dict:
        return {n: self.x[n] for n in self.layout.state_names}


__all__ = ["IonLayout", "Pool"]
