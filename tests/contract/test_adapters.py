"""One contract, run over every built-in adapter: the public checks of ``benchmarks.testing``
(interface, config, fit, sample, op counts, seeded sampling, reconstruct, seeded training,
save/load), which plugin adapters run too."""

from __future__ import annotations

import importlib.util

import pytest
from tiny_configs import TINY_CONFIGS

import adapters
from adapters.base import BACKENDS, CAPABILITIES, FAMILIES, GenerativeAdapter
from benchmarks.testing import CHECKS, check_adapter

_NEEDS = {"conversion": "tensorflow", "surrogate": "snntorch", "stdp": "spyker"}
BUILT_IN = sorted(adapters.ADAPTERS)


def _skip_if_backend_missing(name: str) -> None:
    lib = _NEEDS.get(adapters.backend_of(name))
    if lib is not None and importlib.util.find_spec(lib) is None:
        pytest.skip(f"{name} needs {lib}: {adapters.INSTALL_HINTS[lib]}")


def test_every_adapter_has_a_tiny_config():
    assert sorted(TINY_CONFIGS) == BUILT_IN


@pytest.mark.parametrize("name", BUILT_IN)
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


@pytest.mark.parametrize("name", BUILT_IN)
def test_adapter_contract(name, tmp_path):
    _skip_if_backend_missing(name)
    report = check_adapter(name, TINY_CONFIGS[name], workdir=tmp_path)
    assert report.passed == tuple(c.name for c in CHECKS)
    assert (tmp_path / "model.pt").is_file()
