"""The plugin passes the suite's contract, through its entry point, and counts like the suite."""

from __future__ import annotations

import pytest

import adapters
from benchmarks.testing import CHECKS, check_adapter, tiny_images

#: trains in about a second on the contract's 64 tiny images
TINY = {"epochs": 1, "hidden": 32, "latent": 8, "timesteps": 4, "batch_size": 32}


def test_registered_through_the_entry_point():
    (source,) = [s for s in adapters.sources() if s.name == "norse-vae"]
    assert source.origin == "plugin" and source.problem is None
    assert source.distribution.startswith("spikegenbench-norse-vae ")
    assert adapters.get_adapter_class("norse-vae").__module__ == "sgb_norse_vae.adapter"


def test_contract(tmp_path):
    report = check_adapter("norse-vae", TINY, workdir=tmp_path)
    assert report.passed == tuple(c.name for c in CHECKS)


def test_sample_counts_every_spike_of_the_decoder():
    """A latent spike reaches every hidden neuron (32) and a hidden spike every pixel (784): the
    decoder's synaptic operations follow from the spike counts alone, and it does no MAC."""
    from adapters.coding import bernoulli_noise, make_generator, split_seed

    model = adapters.create("norse-vae", TINY)
    model.fit(tiny_images(), seed=0)
    model.sample(20, seed=1)
    counts = model.op_counts()
    noise = bernoulli_noise((4, 20, 8), 0.5, generator=make_generator(split_seed(1, "noise")))
    hidden_spikes = counts.spikes_per_layer["lif"] * 20
    assert counts.neurons_per_layer == {"lif": 32}
    assert counts.neuron_updates == 32 * 4
    assert counts.macs == 0
    assert hidden_spikes > 0
    assert counts.synaptic_ops * 20 == pytest.approx(noise.sum().item() * 32 + hidden_spikes * 784)
