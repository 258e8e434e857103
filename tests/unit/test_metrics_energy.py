"""Energy models on hand-made op counts."""

from __future__ import annotations

import pytest

from adapters.base import OpCounts
from benchmarks.metrics.energy import (
    ENERGY_MODELS,
    EnergyModel,
    energy_nj,
    energy_ratio,
    get_energy_model,
)


def _counts(macs: float, synops: float) -> OpCounts:
    return OpCounts(timesteps=4, spikes=synops / 10, spikes_per_layer={}, neurons_per_layer={},
                    firing_rate=0.1, synaptic_ops=synops, macs=macs, neuron_updates=100.0,
                    n_samples=1)


def test_horowitz_constants_and_hand_computed_energy():
    model = get_energy_model("horowitz-45nm")
    assert (model.e_mac_pj, model.e_ac_pj, model.version) == (4.6, 0.9, 1)
    assert model.label == "horowitz-45nm@1" and "Horowitz" in model.reference
    # 1000 MACs * 4.6 pJ + 2000 ACs * 0.9 pJ = 4600 + 1800 pJ = 6.4 nJ
    assert energy_nj(_counts(1000, 2000), model) == pytest.approx(6.4)
    assert energy_nj(_counts(0, 0), model) == 0.0
    assert energy_nj(_counts(0, 1000), model) == pytest.approx(0.9)


def test_ratio():
    assert energy_ratio(3.2, 6.4) == pytest.approx(0.5)
    assert energy_ratio(1.0, None) is None and energy_ratio(None, 1.0) is None
    assert energy_ratio(1.0, 0.0) is None
    with pytest.raises(ValueError, match=">= 0"):
        energy_ratio(-1.0, 2.0)


def test_bad_inputs_rejected():
    with pytest.raises(ValueError, match=r"unknown energy model 'horowitz-45'.*did you mean "
                                         r"'horowitz-45nm'.*\['horowitz-45nm'\]"):
        get_energy_model("horowitz-45")
    with pytest.raises(TypeError, match="EnergyModel"):
        energy_nj(_counts(1, 1), "horowitz-45nm")
    with pytest.raises(TypeError, match="OpCounts"):
        energy_nj({"macs": 1}, ENERGY_MODELS["horowitz-45nm"])
    with pytest.raises(ValueError, match="e_ac_pj"):
        EnergyModel("x", 1, 1.0, 0.0, "nowhere")
