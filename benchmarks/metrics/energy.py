"""Named, versioned energy models: energy per sample from measured operation counts.

Every constant lives in this file, next to its reference. A model turns a record's
``op_counts`` (:class:`adapters.base.OpCounts`) into nanojoules per sample, so the tables compute
every model's energy from the records at table time: adding a model needs no re-run.

The registry (:data:`ENERGY_MODELS`):

* ``fp32-compute`` — ``E = MACs · E_MAC + accumulates · E_AC`` with 32-bit float costs (the
  suite's first model, still recorded under its old name ``horowitz-45nm``, an alias).
* ``int8-compute`` — the same equation with 8-bit integer costs: an ANN's int8 MAC against an
  SNN's int8 accumulate.
* ``memory-aware`` — after Lemaire et al. (2022): compute, neuron updates, SRAM accesses (weights,
  activations, membrane states) at an energy per access set by the size of the layer's memory,
  and the address computation of every spike-driven accumulate.

Each name may end in ``:effective`` (e.g. ``int8-compute:effective``): the MACs charged are then
the effective ones (zero inputs skipped) instead of the dense ones; accumulates are event-driven
either way. A model returns ``None`` for counts that lack what it needs (records made before
those counts were measured): a missing number, never 0.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from adapters.base import OpCounts

# -- constants ------------------------------------------------------------------------------------
#: Horowitz, "Computing's energy problem (and what we can do about it)", ISSCC 2014, 45 nm, 0.9 V
#: (the table of operation energies, pJ).
HOROWITZ_2014 = "Horowitz, ISSCC 2014 (45 nm, 0.9 V)"
FP32_ADD_PJ = 0.9
FP32_MULT_PJ = 3.7
INT8_ADD_PJ = 0.03
INT8_MULT_PJ = 0.2
INT32_ADD_PJ = 0.1
#: SRAM read of one 64-bit word by array size (bytes -> pJ), same table: 8 KB 10 pJ, 32 KB 20 pJ,
#: 1 MB 100 pJ. Between the points the energy is interpolated linearly in log2(size); below 8 KB
#: it is 10 pJ, above 1 MB 100 pJ (larger memories, off-chip DRAM, are not modelled).
SRAM_64BIT_PJ: tuple[tuple[int, float], ...] = ((8 * 1024, 10.0), (32 * 1024, 20.0),
                                                 (1024 * 1024, 100.0))
LEMAIRE_2022 = ("Lemaire et al., 'An analytical estimation of spiking neural networks energy "
                "efficiency', ICONIP 2022")

MacKind = Literal["dense", "effective"]
MAC_KINDS: tuple[str, ...] = ("dense", "effective")


def sram_access_pj(size_bytes: float, table: Sequence[tuple[int, float]] = SRAM_64BIT_PJ) -> float:
    """Energy of one access (read or write, one word of up to 64 bits) to an SRAM of
    ``size_bytes``: ``table`` interpolated linearly in ``log2(size)``, clamped at its ends.

    Example: 16 KiB lies halfway (in log2) between 8 and 32 KiB, so ``10 + (20 - 10) / 2 = 15``.

    Raises:
        ValueError: ``size_bytes`` is negative or not finite.
    """
    if not (isinstance(size_bytes, int | float) and math.isfinite(size_bytes) and size_bytes >= 0):
        raise ValueError(f"size_bytes must be a finite number >= 0, got {size_bytes!r}")
    if size_bytes <= table[0][0]:
        return table[0][1]
    for (s0, e0), (s1, e1) in zip(table, table[1:], strict=False):
        if size_bytes <= s1:
            return e0 + (e1 - e0) * (math.log2(size_bytes) - math.log2(s0)) / (
                math.log2(s1) - math.log2(s0))
    return table[-1][1]


@dataclass(frozen=True)
class MemoryCosts:
    """What the memory-aware model adds to compute (see :func:`memory_aware_pj`).

    Attributes:
        word_bytes: bytes per stored weight, activation or membrane value (4: fp32).
        e_mult_pj: a multiply: the leak ``v ← β·v`` of a leaky neuron.
        e_add_pj: an add: a neuron's threshold comparison, its reset by subtraction.
        e_addr_pj: the address computation of one spike-driven accumulate (an integer add).
        sram: SRAM access energy by memory size, ``(bytes, pJ)`` points (:func:`sram_access_pj`).
    """

    word_bytes: int
    e_mult_pj: float
    e_add_pj: float
    e_addr_pj: float
    sram: tuple[tuple[int, float], ...] = SRAM_64BIT_PJ


@dataclass(frozen=True)
class EnergyModel:
    """Energy per operation, and (memory-aware models) per memory access.

    Attributes:
        name: registry key, e.g. ``"fp32-compute"`` (with ``":effective"`` for that variant).
        version: bumped whenever a constant changes.
        e_mac_pj: energy of one multiply-accumulate, picojoules (``> 0``).
        e_ac_pj: energy of one accumulate (synaptic operation), picojoules (``> 0``).
        reference: where the constants come from.
        macs: which MACs are charged: ``"dense"`` (every connection of a MAC layer) or
            ``"effective"`` (connections of non-zero inputs only).
        memory: the memory-aware part; ``None`` for a compute-only model.
    """

    name: str
    version: int
    e_mac_pj: float
    e_ac_pj: float
    reference: str
    macs: MacKind = "dense"
    memory: MemoryCosts | None = None

    def __post_init__(self) -> None:
        for field in ("e_mac_pj", "e_ac_pj"):
            value = getattr(self, field)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise ValueError(f"EnergyModel.{field} must be a finite number > 0, got {value!r}")
        if self.version < 1:
            raise ValueError(f"EnergyModel.version must be >= 1, got {self.version}")
        if self.macs not in MAC_KINDS:
            raise ValueError(f"EnergyModel.macs must be one of {list(MAC_KINDS)}, "
                             f"got {self.macs!r}")

    @property
    def label(self) -> str:
        """``"<name>@<version>"``, as written in records."""
        return f"{self.name}@{self.version}"

    def describe(self) -> str:
        """One line: what the model charges and where its constants come from."""
        macs = "effective" if self.macs == "effective" else "dense"
        text = f"{self.e_mac_pj:g} pJ/MAC ({macs}), {self.e_ac_pj:g} pJ/AC"
        if self.memory is not None:
            m = self.memory
            text += (f", neuron update {m.e_add_pj:g} pJ (+{m.e_mult_pj:g} pJ leak), "
                     f"SRAM {m.sram[0][1]:g}–{m.sram[-1][1]:g} pJ per {8 * m.word_bytes}-bit "
                     f"access by memory size, {m.e_addr_pj:g} pJ per spike address")
        return f"{text} ({self.reference})"

    def energy_nj(self, counts: OpCounts) -> float | None:
        """Energy per sample (nJ) of ``counts``; ``None`` where they lack what this model needs."""
        if self.memory is not None:
            pj = memory_aware_pj(counts, self)
            return None if pj is None else pj / 1000.0
        macs = charged_macs(counts, self.macs)
        if macs is None:
            return None
        return (macs * self.e_mac_pj + counts.synaptic_ops * self.e_ac_pj) / 1000.0


def charged_macs(counts: OpCounts, kind: str) -> float | None:
    """The MACs a model charges: ``counts.macs`` (dense) or ``counts.effective_macs``.

    Records made before effective MACs were counted give ``None`` for ``"effective"``, except
    where they hold no MAC at all (then the effective count is 0 too).
    """
    if kind == "dense":
        return counts.macs
    if counts.effective_macs is not None:
        return counts.effective_macs
    return 0.0 if counts.macs == 0 else None


def memory_aware_pj(counts: OpCounts, model: EnergyModel) -> float | None:
    """Energy per sample (pJ) under a memory-aware model, summed over ``counts.layers``.

    With ``w`` the word size, ``e(S)`` the SRAM access energy of a memory of ``S`` bytes
    (:func:`sram_access_pj`), per layer:

    * synaptic layer with ``P`` parameters, ``I`` inputs and ``O`` outputs per call:
      weights in ``e_w = e(P·w)``, activations and membranes in ``e_a = e((I + O)·w)``;
      ``M`` MACs (dense or effective), reading ``R`` inputs (all of them, or the non-zero ones)
      and writing ``W`` outputs; ``A`` accumulates driven by ``s`` input spikes::

          E = M·(E_MAC + e_w) + (R + W)·e_a + A·(E_AC + e_w + 2·e_a + E_addr) + s·e_a

      (each accumulate reads its weight, reads and writes its target's membrane, and computes
      the target's address; each input spike is read once);
    * integrating neuron layer of ``N`` neurons, ``U`` updates, ``S`` spikes, ``e_n = e(N·w)``::

          E = U·(E_add + [leaky]·E_mult + 2·e_n) + S·(E_add + e_n)

      (per update: threshold comparison, the leak's multiply if it leaks — unknown counts as
      leaky —, membrane read and write; per spike: reset by subtraction and the spike's write);
    * a source spike train costs nothing (its generation is not modelled, nor is the ANN's
      noise).

    Returns ``None`` where ``counts`` has no per-layer counts (older records).
    """
    memory = model.memory
    if memory is None:
        raise ValueError(f"{model.name} is a compute-only model; memory_aware_pj needs memory "
                         f"costs")
    if counts.layers is None:
        return None
    word = memory.word_bytes
    total = 0.0
    for name, layer in counts.layers.items():
        kind = layer.get("kind")
        if kind == "synapse":
            e_w = sram_access_pj(layer["params"] * word, memory.sram)
            e_a = sram_access_pj((layer["in_size"] + layer["out_size"]) * word, memory.sram)
            effective = model.macs == "effective"
            macs = layer["effective_macs"] if effective else layer["macs"]
            reads = layer["mac_nonzero_inputs"] if effective else layer["mac_inputs"]
            total += (macs * (model.e_mac_pj + e_w) + (reads + layer["mac_outputs"]) * e_a
                      + layer["synaptic_ops"] * (model.e_ac_pj + e_w + 2 * e_a + memory.e_addr_pj)
                      + layer["spike_inputs"] * e_a)
        elif kind == "neuron":
            e_n = sram_access_pj(layer["neurons"] * word, memory.sram)
            leak = 0.0 if layer.get("leaky") is False else memory.e_mult_pj
            total += (layer["updates"] * (memory.e_add_pj + leak + 2 * e_n)
                      + layer["spikes"] * (memory.e_add_pj + e_n))
        elif kind != "source":
            raise ValueError(f"layer {name!r} has kind {kind!r}; allowed: "
                             f"['synapse', 'neuron', 'source']")
    return total


# -- the registry -----------------------------------------------------------------------------------
# Written out, not summed: 3.7 + 0.9 is 4.6000000000000005 in floating point, and the records'
# energies were computed with 4.6.
_FP32_MAC = 4.6  # FP32_MULT_PJ + FP32_ADD_PJ
_INT8_MAC = 0.23  # INT8_MULT_PJ + INT8_ADD_PJ

ENERGY_MODELS: dict[str, EnergyModel] = {
    m.name: m for m in (
        # the reference text as the records of the old name hold it (energy_model_desc)
        EnergyModel("fp32-compute", 1, _FP32_MAC, FP32_ADD_PJ,
                    "Horowitz, ISSCC 2014, 45 nm, 32-bit float"),
        EnergyModel("int8-compute", 1, _INT8_MAC, INT8_ADD_PJ,
                    f"{HOROWITZ_2014}: 8-bit integer mult {INT8_MULT_PJ} + add {INT8_ADD_PJ}"),
        EnergyModel("memory-aware", 1, _FP32_MAC, FP32_ADD_PJ,
                    f"after {LEMAIRE_2022}; constants {HOROWITZ_2014}: 32-bit float, "
                    f"SRAM 8 KB/32 KB/1 MB",
                    memory=MemoryCosts(word_bytes=4, e_mult_pj=FP32_MULT_PJ,
                                       e_add_pj=FP32_ADD_PJ, e_addr_pj=INT32_ADD_PJ)),
    )
}
#: Old names still accepted (suites and records name them); each is its model under the old name.
ALIASES: dict[str, str] = {"horowitz-45nm": "fp32-compute"}
DEFAULT_ENERGY_MODEL = "horowitz-45nm"
#: The models the tables show side by side unless told otherwise.
TABLE_ENERGY_MODELS: tuple[str, ...] = ("fp32-compute", "memory-aware")


def known_names() -> list[str]:
    """Every accepted base name: the models, then the aliases."""
    return [*ENERGY_MODELS, *ALIASES]


def get_energy_model(name: str) -> EnergyModel:
    """The energy model called ``name`` (``"<model>"`` or ``"<model>:effective"``).

    An alias gives its model under the alias's name (``horowitz-45nm`` is ``fp32-compute`` with
    the label ``horowitz-45nm@1``), so records written under the old name keep their label.

    Raises:
        ValueError: an unknown name or variant, listing the known ones.
    """
    if not isinstance(name, str):
        raise ValueError(f"energy model name must be a string, got {name!r}; known: "
                         f"{list(ENERGY_MODELS)}")
    base, _, variant = name.partition(":")
    canonical = ALIASES.get(base, base)
    if canonical not in ENERGY_MODELS:
        close = difflib.get_close_matches(base, known_names(), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(f"unknown energy model {name!r}{hint}; known: {list(ENERGY_MODELS)} "
                         f"(each may end in ':effective'); old names still known: {sorted(ALIASES)}")
    if variant not in ("", *MAC_KINDS):
        raise ValueError(f"unknown MAC variant {variant!r} in energy model {name!r}; allowed: "
                         f"{list(MAC_KINDS)} (e.g. '{canonical}:effective')")
    model = ENERGY_MODELS[canonical]
    if base != canonical:
        model = dataclasses.replace(model, name=base)
    if variant == "effective":
        model = dataclasses.replace(model, name=f"{model.name}:effective", macs="effective")
    return model


#: Short names for narrow table headers (LaTeX), by model.
SHORT_NAMES: dict[str, str] = {"fp32-compute": "fp32", "int8-compute": "int8",
                               "memory-aware": "memory"}


def short_name(name: str) -> str:
    """A few letters for ``name`` in a narrow header: ``fp32``, ``int8 eff.``, ``memory``."""
    canonical = canonical_name(name)
    base, _, variant = canonical.partition(":")
    return SHORT_NAMES.get(base, base) + (" eff." if variant == "effective" else "")


def canonical_name(name: str) -> str:
    """``name`` with an alias replaced by its model's name (``horowitz-45nm`` -> ``fp32-compute``).

    Raises:
        ValueError: unknown name (as :func:`get_energy_model`).
    """
    model = get_energy_model(name)
    base, _, variant = model.name.partition(":")
    return ALIASES.get(base, base) + (f":{variant}" if variant else "")


def energy_nj(op_counts: OpCounts, model: EnergyModel) -> float | None:
    """Energy per sample in nanojoules of ``op_counts`` under ``model``.

    Compute-only models: ``(MACs · E_MAC + synaptic_ops · E_AC) / 1000``, MACs dense or effective
    (:attr:`EnergyModel.macs`); memory-aware models: :func:`memory_aware_pj` ``/ 1000``.

    Returns:
        A float ``>= 0`` (nJ per sample), or ``None`` where the counts lack what the model needs.

    Raises:
        TypeError: ``op_counts`` is not an :class:`OpCounts`, or ``model`` not an
            :class:`EnergyModel`.
    """
    if not isinstance(op_counts, OpCounts):
        raise TypeError(f"op_counts must be an OpCounts, got {type(op_counts).__name__}")
    if not isinstance(model, EnergyModel):
        raise TypeError(f"model must be an EnergyModel, got {type(model).__name__} "
                        f"(use get_energy_model(name))")
    return model.energy_nj(op_counts)


def record_energy_nj(record: Mapping[str, Any], model: EnergyModel) -> float | None:
    """Energy per sample (nJ) of a record's ``op_counts`` under ``model``; ``None`` where the
    record has no counts (a failed cell) or lacks what the model needs."""
    data = record.get("op_counts")
    if not isinstance(data, Mapping):
        return None
    return energy_nj(OpCounts.from_dict(data), model)


def energy_ratio(energy: float | None, ann_energy: float | None) -> float | None:
    """``energy / ann_energy``; ``None`` when either is missing or the baseline's is 0."""
    if energy is None or ann_energy is None:
        return None
    if energy < 0 or ann_energy < 0:
        raise ValueError(f"energies must be >= 0, got {energy} and {ann_energy}")
    if ann_energy == 0:
        return None
    return float(energy) / float(ann_energy)
