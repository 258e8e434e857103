"""Energy models on hand-made op counts and on the hand-counted toy networks of tests/toynets.py."""

from __future__ import annotations

import dataclasses

import pytest

from adapters.base import OpCounts
from benchmarks.metrics.energy import (
    ENERGY_MODELS,
    EnergyModel,
    canonical_name,
    energy_nj,
    energy_ratio,
    get_energy_model,
    sram_access_pj,
)
from tests.toynets import conv_net, spiking_mlp


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
                                         r"'horowitz-45nm'.*known: \['fp32-compute', "
                                         r"'int8-compute', 'memory-aware'\]"):
        get_energy_model("horowitz-45")
    with pytest.raises(ValueError, match=r"unknown MAC variant 'sparse'.*allowed: "
                                         r"\['dense', 'effective'\]"):
        get_energy_model("int8-compute:sparse")
    with pytest.raises(TypeError, match="EnergyModel"):
        energy_nj(_counts(1, 1), "horowitz-45nm")
    with pytest.raises(TypeError, match="OpCounts"):
        energy_nj({"macs": 1}, ENERGY_MODELS["fp32-compute"])
    with pytest.raises(ValueError, match="e_ac_pj"):
        EnergyModel("x", 1, 1.0, 0.0, "nowhere")


def test_the_old_name_is_fp32_compute_under_its_own_label():
    old, new = get_energy_model("horowitz-45nm"), get_energy_model("fp32-compute")
    assert (old.e_mac_pj, old.e_ac_pj, old.macs, old.memory) == (new.e_mac_pj, new.e_ac_pj,
                                                                  "dense", None)
    assert old.label == "horowitz-45nm@1" and new.label == "fp32-compute@1"
    assert canonical_name("horowitz-45nm") == "fp32-compute"
    assert canonical_name("horowitz-45nm:effective") == "fp32-compute:effective"
    counts = _counts(274432, 0)  # ann-vae's committed MACs: the recorded energy, bit for bit
    assert energy_nj(counts, old) == energy_nj(counts, new) == 274432 * 4.6 / 1000


def test_constants_are_horowitz_2014():
    fp32, int8 = get_energy_model("fp32-compute"), get_energy_model("int8-compute")
    assert (fp32.e_mac_pj, fp32.e_ac_pj) == (4.6, 0.9)  # 3.7 mult + 0.9 add; 0.9 add
    assert (int8.e_mac_pj, int8.e_ac_pj) == (0.23, 0.03)  # 0.2 mult + 0.03 add; 0.03 add
    memory = get_energy_model("memory-aware").memory
    assert (memory.word_bytes, memory.e_mult_pj, memory.e_add_pj, memory.e_addr_pj) == (
        4, 3.7, 0.9, 0.1)
    assert memory.sram == ((8192, 10.0), (32768, 20.0), (1048576, 100.0))


def test_sram_energy_by_memory_size():
    assert sram_access_pj(0) == sram_access_pj(8192) == 10.0
    assert sram_access_pj(16384) == 15.0  # halfway in log2 between 8 KiB and 32 KiB
    assert sram_access_pj(32768) == 20.0
    assert sram_access_pj(131072) == pytest.approx(20.0 + 80.0 * 2 / 5)  # 128 KiB: 2 of 5 octaves
    assert sram_access_pj(1 << 20) == sram_access_pj(1 << 30) == 100.0
    with pytest.raises(ValueError, match="size_bytes must be a finite number >= 0, got -1"):
        sram_access_pj(-1)


# Hand computations, pJ (tests/toynets.py has the counts). Spiking MLP: 12 MACs dense, 6
# effective, 6 accumulates. Its memories are all under 8 KiB: every access costs 10 pJ.
#   fc1: dense  12·(4.6 + 10) + (6 reads + 4 writes)·10                         = 275.2
#        effective 6·(4.6 + 10) + (3 non-zero reads + 4 writes)·10              = 157.6
#   lif (leaky): 4 updates·(0.9 compare + 3.7 leak + 2·10) + 2 spikes·(0.9 + 10) = 120.2
#   fc2: 6 accumulates·(0.9 + 10 weight + 2·10 membrane + 0.1 address) + 2·10 = 206.0
#   if (no leak): 6·(0.9 + 2·10) + 3·(0.9 + 10)                                = 158.1
#   noise (a source): 0
# Conv net: 328 MACs dense (200 + 128), 40 effective (8 + 32); memories under 8 KiB.
#   conv: dense 200·14.6 + (16 + 32)·10 = 3400.0;   effective 8·14.6 + (1 + 32)·10 = 446.8
#   up:   dense 128·14.6 + (32 + 64)·10 = 2828.8;   effective 32·14.6 + (8 + 64)·10 = 1187.2
HAND_PJ = {
    "fp32-compute": (12 * 4.6 + 6 * 0.9, 328 * 4.6),
    "fp32-compute:effective": (6 * 4.6 + 6 * 0.9, 40 * 4.6),
    "int8-compute": (12 * 0.23 + 6 * 0.03, 328 * 0.23),
    "int8-compute:effective": (6 * 0.23 + 6 * 0.03, 40 * 0.23),
    "memory-aware": (275.2 + 120.2 + 206.0 + 158.1, 3400.0 + 2828.8),
    "memory-aware:effective": (157.6 + 120.2 + 206.0 + 158.1, 446.8 + 1187.2),
}


@pytest.mark.parametrize("name", sorted(HAND_PJ))
def test_every_model_on_the_hand_counted_toy_networks(name):
    model = get_energy_model(name)
    mlp_pj, conv_pj = HAND_PJ[name]
    assert energy_nj(spiking_mlp(), model) == pytest.approx(mlp_pj / 1000, rel=1e-12, abs=0)
    assert energy_nj(conv_net(), model) == pytest.approx(conv_pj / 1000, rel=1e-12, abs=0)


def test_a_big_layer_pays_for_its_memory():
    """A layer of 4096 parameters (16 KiB at 4 bytes) reads each weight at 15 pJ."""
    layer = {"kind": "synapse", "type": "Linear", "params": 4096, "in_size": 1000,
             "out_size": 24, "dense_macs": 0.0, "macs": 0.0, "effective_macs": 0.0,
             "synaptic_ops": 1.0, "mac_inputs": 0.0, "mac_nonzero_inputs": 0.0,
             "mac_outputs": 0.0, "spike_inputs": 1.0}
    counts = dataclasses.replace(_counts(0, 1), layers={"fc": layer})
    # (1024 activations = 4 KiB: 10 pJ) 1 accumulate: 0.9 + 15 + 2·10 + 0.1; 1 spike read: 10
    assert energy_nj(counts, get_energy_model("memory-aware")) == pytest.approx(0.046, rel=1e-12)


def test_counts_a_model_needs_but_a_record_lacks_give_none_never_zero():
    old = _counts(1000, 2000)  # a record made before the newer counts
    assert energy_nj(old, get_energy_model("memory-aware")) is None
    assert energy_nj(old, get_energy_model("int8-compute:effective")) is None
    assert energy_nj(old, get_energy_model("int8-compute")) == pytest.approx(0.29)
    # no MAC at all: the effective count is 0 too, so the effective models can still say
    assert energy_nj(_counts(0, 2000), get_energy_model("fp32-compute:effective")) == \
        pytest.approx(1.8)
