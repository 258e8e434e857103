"""One contract, run over every registered adapter: fit -> sample -> reconstruct -> op_counts."""

from __future__ import annotations

import importlib.util

import pytest
import torch
from tiny_configs import TINY_CONFIGS

import adapters
from adapters.base import BACKENDS, CAPABILITIES, FAMILIES, GenerativeAdapter, OpCounts

_NEEDS = {"conversion": "tensorflow", "surrogate": "snntorch", "stdp": "spyker"}


def _tiny_images(n: int = 64, seed: int = 0) -> torch.Tensor:
    """Blob images in [0, 1]: a bright square at a seeded position, so there is structure."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 1, 28, 28, generator=gen) * 0.1
    pos = torch.randint(4, 18, (n, 2), generator=gen)
    for i, (r, c) in enumerate(pos.tolist()):
        x[i, 0, r:r + 6, c:c + 6] = 0.9
    return x


def _skip_if_backend_missing(name: str) -> None:
    lib = _NEEDS.get(adapters.backend_of(name))
    if lib is not None and importlib.util.find_spec(lib) is None:
        pytest.skip(f"{name} needs {lib}: {adapters.INSTALL_HINTS[lib]}")


def test_every_adapter_has_a_tiny_config():
    assert sorted(TINY_CONFIGS) == adapters.available()


@pytest.mark.parametrize("name", adapters.available())
def test_registry_entry_resolves(name):
    _skip_if_backend_missing(name)
    cls = adapters.get_adapter_class(name)
    assert issubclass(cls, GenerativeAdapter)
    assert cls.name == name
    assert cls.backend in BACKENDS and cls.family in FAMILIES
    assert cls.capabilities <= CAPABILITIES and "sample" in cls.capabilities


def test_unknown_adapter_suggests_a_name():
    with pytest.raises(ValueError, match=r"did you mean 'ann-vae'.*Registered adapters"):
        adapters.get_adapter_class("ann-vea")


def test_unknown_config_key_is_rejected():
    with pytest.raises(ValueError, match=r"unknown config key\(s\) \['epoch'\].*allowed"):
        adapters.create("ann-vae", {"epoch": 3})


@pytest.mark.parametrize("name", adapters.available())
def test_adapter_contract(name, tmp_path):
    _skip_if_backend_missing(name)
    train = _tiny_images()
    model = adapters.create(name, TINY_CONFIGS[name])
    report = model.fit(train, seed=0, progress=None)
    assert report.epochs >= 1 and report.steps >= 1 and report.train_seconds >= 0

    samples = model.sample(12, seed=3)
    assert samples.shape == (12, 1, 28, 28) and samples.dtype == torch.float32
    assert samples.device.type == "cpu"
    assert float(samples.min()) >= 0.0 and float(samples.max()) <= 1.0
    counts = model.op_counts()
    assert isinstance(counts, OpCounts)
    assert counts.n_samples == 12
    assert counts.macs + counts.synaptic_ops > 0, "a sample must cost some operations"
    for value in (counts.spikes, counts.synaptic_ops, counts.macs, counts.neuron_updates):
        assert value >= 0
    if model.backend != "ann":
        assert counts.spikes > 0 and counts.synaptic_ops > 0, "a spiking sample must spike"

    # Determinism: the same seed gives the same samples, another seed others.
    assert torch.equal(model.sample(12, seed=3), samples)
    assert not torch.equal(model.sample(12, seed=4), samples)

    if "reconstruct" in model.capabilities:
        recon = model.reconstruct(train[:10])
        assert recon.shape == (10, 1, 28, 28) and recon.dtype == torch.float32
        assert float(recon.min()) >= 0.0 and float(recon.max()) <= 1.0
        assert model.op_counts().n_samples == 10
    else:
        with pytest.raises(NotImplementedError):
            model.reconstruct(train[:2])

    # Training twice with one seed gives one model.
    again = adapters.create(name, TINY_CONFIGS[name])
    again.fit(train, seed=0, progress=None)
    assert torch.equal(again.sample(12, seed=3), samples)

    # Save / load round trip.
    path = tmp_path / "model.pt"
    model.save(path)
    restored = adapters.create(name, TINY_CONFIGS[name])
    restored.load(path)
    assert torch.equal(restored.sample(12, seed=3), samples)
