"""The generator interface every backend implements, and its small dataclasses.

This module is the spec: it holds no implementation and imports no backend library.

Images at the boundary are ``float32`` tensors in ``[0, 1]`` with shape ``(N, 1, 28, 28)`` on the
CPU. Spike tensors inside adapters are time-first ``(T, N, ...)``.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from torch import Tensor

IMAGE_SHAPE = (1, 28, 28)
BACKENDS = frozenset({"ann", "surrogate", "conversion", "stdp"})
FAMILIES = frozenset({"vae", "gan", "autoencoder"})
CAPABILITIES = frozenset({"sample", "reconstruct"})

#: ``progress(done, total, postfix)`` — called by ``fit`` after each step; may be ``None``.
ProgressFn = Callable[[int, int, Mapping[str, float]], None]


@dataclass(frozen=True)
class OpCounts:
    """Operations per generated (or reconstructed) sample, measured on a real forward run.

    Attributes:
        timesteps: simulation time steps ``T`` (1 for a non-spiking network).
        spikes: spikes emitted per sample, summed over layers and time.
        spikes_per_layer: spikes per sample for each spiking layer, by layer name.
        neurons_per_layer: number of neurons in each spiking layer (per sample).
        firing_rate: ``spikes / neuron_updates`` over spiking layers, in ``[0, 1]``.
        synaptic_ops: accumulates caused by spikes (each spike times its real fan-out).
        macs: dense multiply-accumulates (non-spiking layers, or layers fed real values).
        neuron_updates: state updates of spiking neurons (neurons x time steps).
        n_samples: how many samples the counts were averaged over.
    """

    timesteps: int
    spikes: float
    spikes_per_layer: dict[str, float]
    neurons_per_layer: dict[str, int]
    firing_rate: float
    synaptic_ops: float
    macs: float
    neuron_updates: float
    n_samples: int

    def __post_init__(self) -> None:
        for name in ("spikes", "synaptic_ops", "macs", "neuron_updates"):
            value = getattr(self, name)
            if value < 0:
                raise ValueError(f"OpCounts.{name} must be >= 0, got {value}")
        if self.timesteps < 1:
            raise ValueError(f"OpCounts.timesteps must be >= 1, got {self.timesteps}")
        if not 0.0 <= self.firing_rate <= 1.0:
            raise ValueError(f"OpCounts.firing_rate must be in [0, 1], got {self.firing_rate}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> OpCounts:
        return cls(**dict(data))


@dataclass
class FitReport:
    """What ``fit`` did.

    Attributes:
        epochs: passes over the training data.
        steps: optimiser (or local-rule) update steps.
        train_seconds: wall time of ``fit``.
        history: per-epoch training curves, e.g. ``{"loss": [...]}``.
        extra: backend-specific scalars worth recording (e.g. STDP convergence).
    """

    epochs: int
    steps: int
    train_seconds: float
    history: dict[str, list[float]] = field(default_factory=dict)
    extra: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def config_from_dict(config_cls: type, data: Mapping[str, Any] | None) -> Any:
    """Build a frozen config dataclass from a mapping, rejecting unknown keys.

    Raises:
        ValueError: a key is not a field of ``config_cls`` (the message lists the allowed keys).
    """
    data = dict(data or {})
    allowed = {f.name for f in dataclasses.fields(config_cls)}
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ValueError(
            f"unknown config key(s) {unknown} for {config_cls.__name__}; "
            f"allowed: {sorted(allowed)}"
        )
    for f in dataclasses.fields(config_cls):
        # TOML gives lists where the dataclass wants tuples; keep configs hashable.
        if f.name in data and isinstance(data[f.name], list):
            data[f.name] = tuple(data[f.name])
    return config_cls(**data)


class GenerativeAdapter(ABC):
    """One generative model built one way (a backend), trained and queried through one interface.

    Subclasses set the class variables, a frozen dataclass ``Config`` and implement the methods.
    ``op_counts()`` reports what the last ``sample()`` or ``reconstruct()`` call really did.
    """

    name: ClassVar[str]
    backend: ClassVar[str]
    family: ClassVar[str]
    capabilities: ClassVar[frozenset[str]]
    Config: ClassVar[type]

    def __init__(self, config: Any = None) -> None:
        if config is None:
            config = self.Config()
        elif isinstance(config, Mapping):
            config = config_from_dict(self.Config, config)
        elif not isinstance(config, self.Config):
            raise TypeError(
                f"{type(self).__name__} expects a {self.Config.__name__} or a mapping, "
                f"got {type(config).__name__}"
            )
        self.config = config

    @abstractmethod
    def fit(self, train: Tensor, *, seed: int, progress: ProgressFn | None = None) -> FitReport:
        """Train on ``train`` (float32 ``(N, 1, 28, 28)`` in ``[0, 1]``)."""

    @abstractmethod
    def sample(self, n: int, *, seed: int) -> Tensor:
        """Generate ``n`` images from Bernoulli noise: float32 ``(n, 1, 28, 28)`` in ``[0, 1]``."""

    def reconstruct(self, x: Tensor) -> Tensor:
        """Encode and decode ``x``; same shape, dtype and range. Not every family can."""
        raise NotImplementedError(f"{self.name} cannot reconstruct (capabilities: "
                                  f"{sorted(self.capabilities)})")

    @abstractmethod
    def op_counts(self) -> OpCounts:
        """Per-sample counts measured during the last ``sample()``/``reconstruct()`` call."""

    @abstractmethod
    def save(self, path: str | Path) -> None:
        """Write the trained model to ``path`` (a file), atomically."""

    @abstractmethod
    def load(self, path: str | Path) -> None:
        """Restore a model written by ``save`` (weights only, no pickled code)."""

    def extra_outputs(self) -> dict[str, Any]:
        """Backend-specific extras for the record (e.g. the ANN upper bound's samples)."""
        return {}

    def trained_twin(self) -> tuple[str, dict[str, Any]] | None:
        """``(adapter name, full config)`` of another adapter whose trained model is exactly what
        this one's ``fit`` would train first (a conversion starts from its ANN), else ``None``.

        When a run already holds that twin, trained on the same data with the same seed, the
        runner hands it to :meth:`start_from` before ``fit``, which then skips that training.
        """
        return None

    def start_from(self, path: Path, fit: Mapping[str, Any], source: str) -> None:
        """Use the twin saved at ``path`` (its record's ``fit``; ``source`` its cell id) instead
        of training it in the next ``fit``. Only adapters with a :meth:`trained_twin` have one."""
        raise NotImplementedError(f"{self.name} has no trained twin to start from")
