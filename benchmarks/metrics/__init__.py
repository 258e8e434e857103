"""Metrics of SpikeGenBench: image quality, reconstruction, energy and cost.

The public API is re-exported here lazily (PEP 562), so ``from benchmarks.metrics import keys``
imports neither torch-fidelity nor the feature network code; an isolated backend environment
without torch-fidelity can still read the metric keys.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS: dict[str, str] = {
    "FEATURE_NET_VERSION": "features",
    "MIN_ACCURACY": "features",
    "FeatureNet": "features",
    "FeatureNetError": "features",
    "FeatureNetInfo": "features",
    "classes_covered": "features",
    "get_feature_net": "features",
    "anchors": "fidelity",
    "fid": "fidelity",
    "image_quality": "fidelity",
    "inception_fid": "fidelity",
    "ENERGY_MODELS": "energy",
    "EnergyModel": "energy",
    "energy_nj": "energy",
    "energy_ratio": "energy",
    "get_energy_model": "energy",
    "reconstruction_errors": "reconstruction",
    "PeakMemory": "cost",
    "Timer": "cost",
    "throughput": "cost",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
