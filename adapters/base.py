"""The generator interface every backend implements, and its small dataclasses.

This module is the spec: it holds no implementation and imports no backend library.

Images at the boundary are ``float32`` tensors in ``[0, 1]`` with shape ``(N, 1, 28, 28)`` on the
CPU, whatever device an adapter runs on (:attr:`GenerativeAdapter.device`). Spike tensors inside
adapters are time-first ``(T, N, ...)``.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import operator
import types
import typing
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

import torch
from torch import Tensor

IMAGE_SHAPE = (1, 28, 28)
BACKENDS = frozenset({"ann", "surrogate", "conversion", "stdp"})
FAMILIES = frozenset({"vae", "gan", "autoencoder", "diffusion"})
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
        neuron_updates: state updates of spiking neurons (neurons x time steps); source spike
            trains included where ``spikes`` includes them (kept as first recorded).
        n_samples: how many samples the counts were averaged over.

    The fields below came later (issue 21); a record written before them loads with ``None``
    ("not measured"), never 0. Definitions, with equations, are in the README ("What is
    measured"); every one is per sample, summed over layers and time steps.

    Attributes:
        dense_macs: connections every synaptic layer call would use if all its inputs were
            non-zero (spike-fed layers included: what a dense accelerator would multiply).
        effective_macs: connections reached from the non-zero inputs of the layers counted in
            ``macs`` (zero inputs skipped).
        source_spikes: spikes of source spike trains (the encoder's coded input, the latent or
            noise drawn from a prior): generated, not integrated.
        source_updates: elements of the source spike trains (units x time steps).
        neuron_spikes: spikes of integrating (membrane) neurons only.
        membrane_updates: membrane updates of integrating neurons (neurons x time steps).
        params: weights and biases of the synaptic layers that ran.
        weight_reads: ``macs + synaptic_ops``: one weight read per MAC and per accumulate.
        membrane_reads, membrane_writes: ``membrane_updates`` each: one read and one write of
            the membrane state per update.
        activation_reads: inputs read by synaptic layers: every input element of a MAC layer
            call, every input spike of an accumulate layer call.
        activation_writes: outputs written: every output element of a MAC layer call, and every
            spike of an integrating neuron.
        layers: the same counts per layer, by name (``kind`` ``"synapse"``, ``"neuron"`` or
            ``"source"``), for energy models that size memories per layer.
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
    dense_macs: float | None = None
    effective_macs: float | None = None
    source_spikes: float | None = None
    source_updates: float | None = None
    neuron_spikes: float | None = None
    membrane_updates: float | None = None
    params: float | None = None
    weight_reads: float | None = None
    membrane_reads: float | None = None
    membrane_writes: float | None = None
    activation_reads: float | None = None
    activation_writes: float | None = None
    layers: dict[str, dict[str, Any]] | None = None

    #: The counts that must be ``>= 0`` where present (``None``: not measured).
    COUNT_FIELDS: ClassVar[tuple[str, ...]] = (
        "spikes", "synaptic_ops", "macs", "neuron_updates", "dense_macs", "effective_macs",
        "source_spikes", "source_updates", "neuron_spikes", "membrane_updates", "params",
        "weight_reads", "membrane_reads", "membrane_writes", "activation_reads",
        "activation_writes")

    def __post_init__(self) -> None:
        for name in self.COUNT_FIELDS:
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"OpCounts.{name} must be >= 0, got {value}")
        if self.timesteps < 1:
            raise ValueError(f"OpCounts.timesteps must be >= 1, got {self.timesteps}")
        if not 0.0 <= self.firing_rate <= 1.0:
            raise ValueError(f"OpCounts.firing_rate must be in [0, 1], got {self.firing_rate}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> OpCounts:
        """The counts of a record's ``op_counts``; fields it lacks (older records) are ``None``.

        Raises:
            ValueError: ``data`` holds a key that is no field, naming it and the fields.
        """
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown OpCounts fields {unknown}; known: {sorted(known)}")
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


# -- configs ------------------------------------------------------------------------------------
def config_field(default: Any, *, ge: float | None = None, gt: float | None = None,
                 le: float | None = None, lt: float | None = None, nonempty: bool = False,
                 quiet: bool = False) -> Any:
    """A config field's default with its allowed range, checked by :class:`AdapterConfig`.

    The bounds apply to the value, or to every element of a tuple field; ``nonempty`` refuses an
    empty tuple. Example: ``timesteps: int = config_field(8, ge=1)``.

    ``quiet``: the field is left out of :func:`config_dict` (a record's config, its config hash,
    a saved model's config) while it holds its default, so that adding it to a config changes no
    hash already recorded and no saved model's config; set to anything else it is there.
    """
    bounds = {k: v for k, v in (("ge", ge), ("gt", gt), ("le", le), ("lt", lt)) if v is not None}
    return field(default=default, metadata={"bounds": bounds, "nonempty": nonempty,
                                            "quiet": quiet})


def _is(value: Any, kind: Any) -> bool:
    """``value`` is of the plain type ``kind``: a bool is no int, a float no int, an int a float."""
    if kind is bool:
        return isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, kind)


_NAMES = {bool: "a bool", int: "an int", float: "a number", str: "a string"}
_PLURALS = {bool: "bools", int: "ints", float: "numbers", str: "strings"}
_BOUND_TEXT = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<"}
_COMPARE = {"ge": operator.ge, "gt": operator.gt, "le": operator.le, "lt": operator.lt}


def _bounds_text(bounds: Mapping[str, float]) -> str:
    low = next(((k, v) for k, v in bounds.items() if k in ("ge", "gt")), None)
    high = next(((k, v) for k, v in bounds.items() if k in ("le", "lt")), None)
    if low and high:
        return (f" in {'[' if low[0] == 'ge' else '('}{low[1]}, "
                f"{high[1]}{']' if high[0] == 'le' else ')'}")
    return "".join(f" {_BOUND_TEXT[k]} {v}" for k, v in bounds.items())


def _in_bounds(value: Any, bounds: Mapping[str, float]) -> bool:
    return all(_COMPARE[k](value, v) for k, v in bounds.items())


@dataclass(frozen=True)
class _FieldRule:
    """What one config field accepts: its annotation, read once, and its declared range."""

    name: str
    annotation: Any
    bounds: Mapping[str, float]
    nonempty: bool

    def allowed(self) -> str:
        """Words for what the field accepts, e.g. ``an int >= 1``, ``one of ['lif', 'if']``."""
        kind, args = typing.get_origin(self.annotation), typing.get_args(self.annotation)
        bounds = _bounds_text(self.bounds)
        if kind is Literal:
            return f"one of {list(args)}"
        if kind in (types.UnionType, typing.Union):
            return " or ".join(_NAMES.get(a, "None" if a is type(None) else str(a)) for a in args)
        if kind is tuple:
            if len(args) == 2 and args[1] is Ellipsis:
                empty = "a non-empty" if self.nonempty else "a"
                return f"{empty} tuple of {_PLURALS[args[0]]}{bounds}"
            return f"a tuple of {len(args)} {_PLURALS[args[0]]}{bounds}"
        return f"{_NAMES.get(self.annotation, str(self.annotation))}{bounds}"

    def accepts(self, value: Any) -> bool:
        kind, args = typing.get_origin(self.annotation), typing.get_args(self.annotation)
        if kind is Literal:  # by type too: True is not 1, 2.0 is not 2
            return any(type(value) is type(a) and value == a for a in args)
        if kind in (types.UnionType, typing.Union):
            return any(value is None if a is type(None) else _is(value, a) for a in args)
        if kind is tuple:
            if not isinstance(value, tuple):
                return False
            if len(args) == 2 and args[1] is Ellipsis:
                kinds = [args[0]] * len(value)
            elif len(args) == len(value):
                kinds = list(args)
            else:
                return False
            if self.nonempty and not value:
                return False
            return all(_is(v, k) and self._within(v) for v, k in zip(value, kinds, strict=True))
        return _is(value, self.annotation) and self._within(value)

    def _within(self, value: Any) -> bool:
        return isinstance(value, (str, bool)) or _in_bounds(value, self.bounds)


@functools.cache
def _field_rules(config_cls: type) -> tuple[_FieldRule, ...]:
    hints = typing.get_type_hints(config_cls)
    return tuple(_FieldRule(f.name, hints[f.name], dict(f.metadata.get("bounds", {})),
                            bool(f.metadata.get("nonempty", False)))
                 for f in dataclasses.fields(config_cls))


@dataclass(frozen=True)
class AdapterConfig:
    """Base of every adapter's ``Config``: a frozen dataclass checked field by field on creation.

    Every field is checked against its annotation: ``int`` takes an int only (not a bool, not
    ``2.0``), ``float`` an int or a float (kept as given), ``bool`` a bool, ``str`` a string,
    ``Literal[...]`` one of its values, ``tuple[T, ...]`` / ``tuple[T, T]`` a tuple of those; a
    range declared with :func:`config_field` applies too. A refused value raises ``ValueError``
    naming the field, the value and what is allowed. Checks that involve more than one field go
    in :meth:`check`, which runs after the field checks.
    """

    def __post_init__(self) -> None:
        owner = type(self).__qualname__
        for rule in _field_rules(type(self)):
            value = getattr(self, rule.name)
            if not rule.accepts(value):
                raise ValueError(f"{owner}.{rule.name} must be {rule.allowed()}, got {value!r}"
                                 + (" (a bool)" if isinstance(value, bool) else ""))
        self.check()

    def check(self) -> None:
        """Cross-field and other per-adapter checks (raise ``ValueError``); none by default."""

    def bad(self, name: str, allowed: str) -> ValueError:
        """The error for field ``name``'s value, saying what is ``allowed``."""
        return ValueError(f"{type(self).__qualname__}.{name} must be {allowed}, "
                          f"got {getattr(self, name)!r}")


def config_from_dict(config_cls: type, data: Mapping[str, Any] | None) -> Any:
    """Build a config dataclass from a mapping (a suite entry, a record), refusing unknown keys.

    Lists become tuples (TOML and JSON have no tuples; configs stay hashable); every value is
    then checked by the config class (see :class:`AdapterConfig`).

    Raises:
        ValueError: a key is not a field of ``config_cls`` (the message suggests the closest
            field and lists the allowed keys), or a value is not allowed.
    """
    data = dict(data or {})
    allowed = [f.name for f in dataclasses.fields(config_cls)]
    unknown = sorted(set(data) - set(allowed), key=str)
    if unknown:
        hints = [f"{close[0]!r} for {key!r}" for key in unknown
                 if (close := difflib.get_close_matches(str(key), allowed, n=1))]
        hint = f" (did you mean {', '.join(hints)}?)" if hints else ""
        raise ValueError(f"unknown config key(s) {unknown} for {config_cls.__qualname__}{hint}; "
                         f"allowed: {sorted(allowed)}")
    return config_cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})


def config_dict(config: Any) -> dict[str, Any]:
    """``dataclasses.asdict(config)`` without the quiet fields (``config_field(quiet=True)``) that
    hold their default: the config as records, config hashes and saved models hold it."""
    out = dataclasses.asdict(config)
    for f in dataclasses.fields(config):
        if f.metadata.get("quiet") and out[f.name] == f.default:
            del out[f.name]
    return out


class GenerativeAdapter(ABC):
    """One generative model built one way (a backend), trained and queried through one interface.

    Subclasses set the class variables, a ``Config`` (a frozen dataclass deriving from
    :class:`AdapterConfig`) and implement the methods.
    ``op_counts()`` reports what the last ``sample()`` or ``reconstruct()`` call really did.

    **Device.** ``fit``, ``sample`` and ``reconstruct`` run on :attr:`device`, which the harness
    sets with :meth:`use_device` (through :func:`adapters.device.place`) before ``fit`` or
    ``load``; an adapter runs on the CPU unless its :attr:`device_types` list the device's type.
    Whatever the device, images come in and go out on the CPU, random draws come from CPU
    generators (so a seed means the same draws on every device) and op counts do not depend on
    it.
    """

    name: ClassVar[str]
    backend: ClassVar[str]
    family: ClassVar[str]
    capabilities: ClassVar[frozenset[str]]
    Config: ClassVar[type]
    #: The device types (``torch.device.type``) this adapter can run on; others run on the CPU,
    #: and the record gives :meth:`device_unsupported`'s reason.
    device_types: ClassVar[frozenset[str]] = frozenset({"cpu"})
    #: Where ``fit``, ``sample`` and ``reconstruct`` run (set by :meth:`use_device`).
    device: torch.device = torch.device("cpu")

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

    def use_device(self, device: torch.device | str) -> None:
        """Run ``fit``, ``sample`` and ``reconstruct`` on ``device`` from now on (called before
        ``fit`` or ``load``; subclasses that hold modules move them there too).

        Raises:
            ValueError: the device's type is not in :attr:`device_types` (with the reason).
        """
        device = torch.device(device)
        if device.type not in self.device_types:
            raise ValueError(f"{self.name} cannot run on {device}: "
                             f"{self.device_unsupported(device)}")
        self.device = device

    def device_unsupported(self, device: torch.device) -> str:
        """Why this adapter runs on the CPU when ``device`` is asked for (its type is not in
        :attr:`device_types`); backends say what stops them."""
        return (f"{self.name} runs only on {sorted(self.device_types)} "
                f"(its device_types), not on {device.type}")

    @abstractmethod
    def fit(self, train: Tensor, *, seed: int, progress: ProgressFn | None = None) -> FitReport:
        """Train on ``train`` (float32 ``(N, 1, 28, 28)`` in ``[0, 1]``)."""

    @abstractmethod
    def sample(self, n: int, *, seed: int) -> Tensor:
        """Generate ``n`` images from Bernoulli noise: float32 ``(n, 1, 28, 28)`` in ``[0, 1]``,
        on the CPU."""

    def reconstruct(self, x: Tensor) -> Tensor:
        """Encode and decode ``x`` (on the CPU); same shape, dtype, range and device. Not every
        family can."""
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

    def learned_filters(self) -> Tensor | None:
        """The first layer's learned receptive fields, for a figure; ``None`` if there are none.

        Returns:
            float32 ``(K, h, w)`` in ``[-1, 1]``, one ``h x w`` filter per feature map, or
            ``None`` (the default: adapters whose first layer is not a bank of image filters).
        """
        return None

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
