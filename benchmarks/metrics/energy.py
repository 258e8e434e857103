"""Named, versioned energy models: energy per sample from measured operation counts.

``energy = macs * E_MAC + synaptic_ops * E_AC`` (pJ), reported in nJ. A dense multiply-accumulate
(MAC) costs ``E_MAC``; a spike-driven accumulate (AC) — one synaptic operation — costs ``E_AC``.
The model's name and version go into every record, so numbers computed under different
constants are never mixed silently.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass

from adapters.base import OpCounts


@dataclass(frozen=True)
class EnergyModel:
    """Energy per operation.

    Attributes:
        name: registry key, e.g. ``"horowitz-45nm"``.
        version: bumped whenever a constant changes.
        e_mac_pj: energy of one multiply-accumulate, picojoules (``> 0``).
        e_ac_pj: energy of one accumulate (synaptic operation), picojoules (``> 0``).
        reference: where the constants come from.
    """

    name: str
    version: int
    e_mac_pj: float
    e_ac_pj: float
    reference: str

    def __post_init__(self) -> None:
        for field in ("e_mac_pj", "e_ac_pj"):
            value = getattr(self, field)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise ValueError(f"EnergyModel.{field} must be a finite number > 0, got {value!r}")
        if self.version < 1:
            raise ValueError(f"EnergyModel.version must be >= 1, got {self.version}")

    @property
    def label(self) -> str:
        """``"<name>@<version>"``, as written in records."""
        return f"{self.name}@{self.version}"


ENERGY_MODELS: dict[str, EnergyModel] = {
    "horowitz-45nm": EnergyModel("horowitz-45nm", 1, 4.6, 0.9,
                                 "Horowitz, ISSCC 2014, 45 nm, 32-bit float"),
}
DEFAULT_ENERGY_MODEL = "horowitz-45nm"


def get_energy_model(name: str) -> EnergyModel:
    """The energy model called ``name``; unknown names raise ``ValueError`` listing the known."""
    try:
        return ENERGY_MODELS[name]
    except (KeyError, TypeError):
        close = difflib.get_close_matches(str(name), ENERGY_MODELS, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(f"unknown energy model {name!r}{hint}; known: "
                         f"{sorted(ENERGY_MODELS)}") from None


def energy_nj(op_counts: OpCounts, model: EnergyModel) -> float:
    """Energy per sample in nanojoules: ``(macs * E_MAC + synaptic_ops * E_AC) / 1000``.

    Args:
        op_counts: per-sample counts measured on a real run.
        model: the energy model.

    Returns:
        A float ``>= 0`` (nJ per sample).
    """
    if not isinstance(op_counts, OpCounts):
        raise TypeError(f"op_counts must be an OpCounts, got {type(op_counts).__name__}")
    if not isinstance(model, EnergyModel):
        raise TypeError(f"model must be an EnergyModel, got {type(model).__name__} "
                        f"(use get_energy_model(name))")
    return (op_counts.macs * model.e_mac_pj + op_counts.synaptic_ops * model.e_ac_pj) / 1000.0


def energy_ratio(energy: float | None, ann_energy: float | None) -> float | None:
    """``energy / ann_energy``; ``None`` when either is missing or the baseline's is 0."""
    if energy is None or ann_energy is None:
        return None
    if energy < 0 or ann_energy < 0:
        raise ValueError(f"energies must be >= 0, got {energy} and {ann_energy}")
    if ann_energy == 0:
        return None
    return float(energy) / float(ann_energy)
