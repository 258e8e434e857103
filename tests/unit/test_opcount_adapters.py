"""The newer op counts (issue 21) as the adapters measure them on their real forward passes:
sources apart from integrating neurons, every operation attributed to a layer, and the ANN
baselines' dense and effective MACs."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import adapters
from adapters.base import OpCounts
from adapters.conversion import StepCounts


def _consistent(c: OpCounts) -> None:
    """The totals are the sums of the per-layer counts, and sources are apart from neurons."""
    layers = c.layers.values()

    def total(kind: str, field: str) -> float:
        return math.fsum(e[field] for e in layers if e["kind"] == kind)

    assert total("synapse", "macs") == pytest.approx(c.macs)
    assert total("synapse", "synaptic_ops") == pytest.approx(c.synaptic_ops)
    assert total("synapse", "dense_macs") == pytest.approx(c.dense_macs)
    assert c.source_spikes == pytest.approx(total("source", "spikes"))
    assert c.neuron_spikes == pytest.approx(total("neuron", "spikes"))
    assert c.membrane_updates == pytest.approx(total("neuron", "updates"))
    assert c.weight_reads == pytest.approx(c.macs + c.synaptic_ops)
    assert c.effective_macs <= c.macs and c.dense_macs >= c.macs


@pytest.mark.parametrize("name, config, source", [
    ("surrogate-vae", {"hidden": (16,), "latent": 6, "timesteps": 3, "prior": "fixed"}, "latent"),
    ("surrogate-vae", {"hidden": (16,), "latent": 6, "timesteps": 3}, "latent"),
    ("surrogate-gan", {"hidden": (16,), "noise_dim": 6, "timesteps": 3}, "noise"),
])
def test_surrogate_sources_are_counted_apart(name, config, source):
    pytest.importorskip("snntorch")
    model = adapters.create(name, config)
    model.sample(5, seed=0)
    c = model.op_counts()
    _consistent(c)
    assert c.layers[source]["kind"] == "source"
    assert c.source_spikes == c.spikes_per_layer[source]
    assert c.source_updates == 3 * 6  # T x units of the latent / noise train
    # the first counts keep their meaning: the source train is among spikes and updates
    assert c.spikes == pytest.approx(c.neuron_spikes + c.source_spikes)
    assert c.neuron_updates == pytest.approx(c.membrane_updates + c.source_updates)
    assert all(e["leaky"] is True for e in c.layers.values() if e["kind"] == "neuron")
    assert "dec.layers.0.synapse" in c.layers  # the decoder's synapses under its prefix


def test_ann_vae_dense_and_effective_macs():
    model = adapters.create("ann-vae", {"hidden": 32, "latent": 8})
    model.sample(6, seed=0)
    c = model.op_counts()
    _consistent(c)
    dense = 8 * 32 + 32 * 32 + 32 * 784
    assert c.macs == c.dense_macs == dense and c.synaptic_ops == 0
    assert c.effective_macs < dense  # Bernoulli(0.5) latent bits and ReLU zeros are skipped
    assert c.params == dense + 32 + 32 + 784
    assert c.activation_reads == 8 + 32 + 32 and c.activation_writes == 32 + 32 + 784
    recon = model.reconstruct(torch.rand(4, 1, 28, 28))
    assert recon.shape == (4, 1, 28, 28)
    r = model.op_counts()
    _consistent(r)
    encoder = 784 * 32 + 32 * 32 + 32 * 8  # Bernoulli latent: one logit per bit
    assert r.macs == r.dense_macs == dense + encoder


def test_ann_learned_prior_adds_its_real_connections():
    model = adapters.create("ann-vae-learned-prior", {"hidden": 32, "latent": 8,
                                                      "prior_hidden": 16})
    model.sample(4, seed=0)
    c = model.op_counts()
    _consistent(c)
    prior = model.prior.macs()
    assert c.macs == 8 * 32 + 32 * 32 + 32 * 784 + prior
    assert c.layers["prior.hidden"]["macs"] + c.layers["prior.out"]["macs"] == prior


def test_conversion_step_counts_split_by_layer_and_step():
    """A converted network's counter (no TensorFlow needed): input layer fed a binary noise
    vector (a source, accumulates), one IF layer whose spikes feed the read-out."""
    first, readout = nn.Linear(4, 3), nn.Linear(3, 2)
    counter = StepCounts(["hidden1"], [readout], first, timesteps=2)
    noise = torch.tensor([[1.0, 0.0, 1.0, 0.0]])  # 2 spikes x 3 targets per step
    counter.add_input(0, noise)
    counter.add_spikes(0, 0, torch.tensor([[1.0, 0.0, 0.0]]))  # 1 spike x 2 targets
    counter.add_input(1, noise)
    counter.add_spikes(1, 0, torch.tensor([[1.0, 1.0, 0.0]]))  # 2 spikes x 2 targets
    counter.n_samples = 1
    one, two = counter.counts(1), counter.counts(2)
    assert (one.synaptic_ops, one.source_spikes, one.neuron_spikes) == (6 + 2, 2, 1)
    assert (two.synaptic_ops, two.source_spikes, two.neuron_spikes) == (12 + 6, 4, 3)
    assert two.spikes == 3  # as before: the input is not among the network's spikes
    assert two.membrane_updates == 6 and two.source_updates == 8
    assert two.layers["hidden1"]["leaky"] is False  # SNN Toolbox's IF neurons
    assert two.layers["input_layer"]["spike_inputs"] == 4
    assert two.layers["hidden1.out"]["synaptic_ops"] == 6
    assert two.dense_macs == 2 * (4 * 3 + 3 * 2)
