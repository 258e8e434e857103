"""Measured operation counting shared by every backend.

An :class:`OpCounter` watches a real forward run. Synaptic layers (``nn.Linear``, ``nn.Conv2d``,
``nn.ConvTranspose2d``) are counted from the tensor they actually receive:

* a **binary** input (every value 0 or 1: spikes) costs one accumulate per spike per real
  connection it reaches -> ``synaptic_ops``;
* any other input (real values) costs one multiply-accumulate per real connection -> ``macs``.

"Real connection" is measured, not taken from a fan-out formula: the count is the layer's own
connectivity applied to the input's non-zero mask with unit weights (``conv2d(mask, ones)``), so
borders, strides, padding and transposed convolutions are exact. Spiking neuron layers are counted
from their output spike tensors: spikes, and one neuron update per neuron per call (time step).

Every synaptic layer call is also counted densely (``dense_macs``: as if every input were
non-zero) and, where it costs MACs, effectively (``effective_macs``: zero inputs skipped), with
the inputs it reads and the outputs it writes. Source spike trains (a coded input, a latent or
noise drawn from a prior) are added with ``source=True``: they are counted apart from the neurons
that integrate. Everything is also kept per layer (:attr:`OpCounts.layers`).

Counts are exact on every device: a count is a sum of 0/1 masks (and of their convolutions with
unit kernels, rounded to the integers they are, whatever algorithm a GPU library picks) taken in
float64, which is exact in any order, on the tensor's own device (CUDA), or on the CPU where the
device has no float64 (MPS). A model run on a GPU that emits the same spikes as on the CPU is
counted the same.

Backends that do not run ``nn.Module`` layers (e.g. spyker) call :meth:`OpCounter.add_spikes`,
:meth:`OpCounter.add_synaptic_ops` and :meth:`OpCounter.add_macs` with their real tensors.

:func:`measure_ops` counts any ``torch.nn.Module`` (a plugin's, or a model outside the suite)
with these same hooks in one call.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from adapters.base import OpCounts

SYNAPTIC_TYPES = (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)
#: Device types whose float64 counting runs where the tensor is; others count on the CPU.
_FLOAT64_DEVICES = frozenset({"cpu", "cuda"})


def is_binary(x: Tensor) -> bool:
    """True when every element of ``x`` is exactly 0 or 1 (a spike tensor)."""
    return bool(((x == 0) | (x == 1)).all())


@torch.no_grad()
def connection_count(layer: nn.Module, mask: Tensor) -> float:
    """Connections reached from the non-zero elements of ``mask`` through ``layer``.

    Args:
        layer: ``nn.Linear``, ``nn.Conv2d`` or ``nn.ConvTranspose2d``.
        mask: float tensor of the layer's input shape; 1 where an input is non-zero (or, for a
            dense count, everywhere).

    Returns:
        The number of (input element, weight, output element) triples that contribute, i.e. the
        accumulates the layer performs for that input (exact on every device: module docstring).
    """
    if mask.device.type not in _FLOAT64_DEVICES:
        mask = mask.cpu()
    mask = mask.to(torch.float64)
    if isinstance(layer, nn.Linear):
        return float(mask.sum().item()) * layer.out_features
    if isinstance(layer, nn.Conv2d):
        ones = torch.ones(1, layer.in_channels // layer.groups, *layer.kernel_size,
                          dtype=torch.float64, device=mask.device)
        if layer.groups != 1:
            raise NotImplementedError("grouped convolutions are not counted yet")
        # Summing the input channels first is exact: every channel sees the same kernel support.
        reach = F.conv2d(mask.sum(dim=1, keepdim=True), ones[:, :1], stride=layer.stride,
                         padding=layer.padding, dilation=layer.dilation)
        return float(reach.round().sum().item()) * layer.out_channels
    if isinstance(layer, nn.ConvTranspose2d):
        if layer.groups != 1:
            raise NotImplementedError("grouped transposed convolutions are not counted yet")
        ones = torch.ones(1, 1, *layer.kernel_size, dtype=torch.float64, device=mask.device)
        reach = F.conv_transpose2d(mask.sum(dim=1, keepdim=True), ones, stride=layer.stride,
                                   padding=layer.padding, output_padding=layer.output_padding,
                                   dilation=layer.dilation)
        return float(reach.round().sum().item()) * layer.out_channels
    raise TypeError(f"cannot count connections of {type(layer).__name__}; "
                    f"supported: {[t.__name__ for t in SYNAPTIC_TYPES]}")


def output_size(layer: nn.Module, x: Tensor) -> int:
    """Output elements per input example of ``layer`` fed ``x`` (batch first), from shapes only."""
    if isinstance(layer, nn.Linear):
        return int(layer.out_features)
    if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d)):
        probe = torch.empty((1, 1, *x.shape[-2:]), device="meta")
        kernel = torch.empty((1, 1, *layer.kernel_size), device="meta")
        if isinstance(layer, nn.Conv2d):
            out = F.conv2d(probe, kernel, stride=layer.stride, padding=layer.padding,
                           dilation=layer.dilation)
        else:
            out = F.conv_transpose2d(probe, kernel, stride=layer.stride, padding=layer.padding,
                                     output_padding=layer.output_padding, dilation=layer.dilation)
        return int(layer.out_channels * out.shape[-1] * out.shape[-2])
    raise TypeError(f"cannot size the output of {type(layer).__name__}; "
                    f"supported: {[t.__name__ for t in SYNAPTIC_TYPES]}")


def input_size(layer: nn.Module, x: Tensor) -> int:
    """Input elements per input example of ``layer`` (``in_features``, or ``C x H x W``)."""
    if isinstance(layer, nn.Linear):
        return int(layer.in_features)
    return int(x.shape[-3] * x.shape[-2] * x.shape[-1])


#: The per-layer counts of a synaptic layer (:attr:`OpCounts.layers`, ``kind == "synapse"``).
SYNAPSE_FIELDS: tuple[str, ...] = ("dense_macs", "macs", "effective_macs", "synaptic_ops",
                                   "mac_inputs", "mac_nonzero_inputs", "mac_outputs",
                                   "spike_inputs")


class OpCounter:
    """Accumulates measured counts over one or more forward runs.

    Use as a context manager around the run; ``counts(n_samples, timesteps)`` turns the totals into
    per-sample :class:`OpCounts`.

    Example::

        counter = OpCounter()
        counter.watch_synapses(model)
        counter.watch_spikes({"hidden": model.lif1, "out": model.lif2})
        with counter:
            model(x)
        counts = counter.counts(n_samples=x.shape[0], timesteps=T)
    """

    def __init__(self) -> None:
        self.synaptic_ops = 0.0
        self.macs = 0.0
        self.spikes: OrderedDict[str, float] = OrderedDict()
        self.neuron_updates: OrderedDict[str, float] = OrderedDict()
        self.neurons: OrderedDict[str, int] = OrderedDict()
        self.dense_macs = 0.0
        self.effective_macs = 0.0
        #: per-layer totals (over samples), by layer name; see :meth:`counts`
        self.layers: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._layer_names: dict[int, str] = {}
        self._dense_cache: dict[tuple[int, tuple[int, ...]], float] = {}
        self._watch_syn: list[tuple[str, nn.Module]] = []
        self._dense: set[int] = set()
        self._watch_spk: list[tuple[str, nn.Module]] = []
        self._handles: list[torch.utils.hooks.RemovableHandle] = []

    # -- manual accounting -------------------------------------------------------------------
    def add_macs(self, n: float) -> None:
        self.macs += float(n)

    def add_synaptic_ops(self, n: float) -> None:
        self.synaptic_ops += float(n)

    def add_spikes(self, name: str, spikes: Tensor, *, batch_dim: int = 0, source: bool = False,
                   leaky: bool | None = None) -> None:
        """Count one call's spike tensor of a spiking layer (one time step, or ``(T, N, ...)``).

        Args:
            name: layer name.
            spikes: binary tensor; its elements are neuron updates, its non-zeros spikes.
            batch_dim: which dimension is the batch (1 for a time-first ``(T, N, ...)`` tensor).
            source: the tensor is a source spike train (a coded input, a latent or noise drawn
                from a prior), not the output of neurons that integrate; counted apart.
            leaky: the neurons leak (LIF: ``True``), or not (IF: ``False``); ``None``: unknown.
        """
        n_batch = spikes.shape[batch_dim]
        per_sample = spikes.numel() // max(n_batch, 1)
        if batch_dim == 1:
            per_sample //= spikes.shape[0]
        fired = float((spikes != 0).sum().item())
        self.spikes[name] = self.spikes.get(name, 0.0) + fired
        self.neuron_updates[name] = self.neuron_updates.get(name, 0.0) + float(spikes.numel())
        self.neurons[name] = int(per_sample)
        entry = self.layers.setdefault(name, {"kind": "source" if source else "neuron",
                                              "neurons": 0, "updates": 0.0, "spikes": 0.0,
                                              "leaky": leaky})
        entry["neurons"] = int(per_sample)
        entry["updates"] += float(spikes.numel())
        entry["spikes"] += fired

    def add_layer_input(self, layer: nn.Module, x: Tensor, *, dense: bool = False,
                        name: str | None = None) -> None:
        """Count what a synaptic layer does with input ``x``: accumulates if binary, else MACs.

        ``dense=True`` counts MACs whatever the input holds (a non-spiking network on ordinary
        hardware multiplies every weight, zeros included). Either way the call's dense count,
        its effective MACs (MAC calls: connections of the non-zero inputs), the inputs it reads
        and the outputs it writes go to the layer's entry in :attr:`layers` (``name``: the
        watched name, else the layer's class name, numbered when taken by another layer).
        """
        entry = self._synapse_entry(layer, name)
        nonzero = (x != 0).to(torch.float32)
        key = (id(layer), tuple(x.shape))
        if key not in self._dense_cache:  # depends on the shape only
            self._dense_cache[key] = connection_count(layer, torch.ones_like(nonzero))
        full = self._dense_cache[key]
        self.dense_macs += full
        entry["dense_macs"] += full
        entry["in_size"], entry["out_size"] = input_size(layer, x), output_size(layer, x)
        if not dense and is_binary(x):
            ops = connection_count(layer, nonzero)
            self.synaptic_ops += ops
            entry["synaptic_ops"] += ops
            entry["spike_inputs"] += float(nonzero.sum().item())
        else:
            effective = connection_count(layer, nonzero)
            self.macs += full
            self.effective_macs += effective
            entry["macs"] += full
            entry["effective_macs"] += effective
            entry["mac_inputs"] += float(x.numel())
            entry["mac_nonzero_inputs"] += float(nonzero.sum().item())
            entry["mac_outputs"] += float(x.numel() // entry["in_size"] * entry["out_size"])

    def _synapse_entry(self, layer: nn.Module, name: str | None) -> dict[str, Any]:
        """The :attr:`layers` entry of synaptic ``layer``, created on its first call."""
        key = id(layer)
        if key not in self._layer_names:
            base = name or self._watched_name(layer) or type(layer).__name__
            taken = set(self.layers)
            unique = base if base not in taken else next(
                f"{base}#{k}" for k in range(2, len(taken) + 3) if f"{base}#{k}" not in taken)
            self._layer_names[key] = unique
            self.layers[unique] = {
                "kind": "synapse", "type": type(layer).__name__,
                "params": int(sum(p.numel() for p in layer.parameters(recurse=False))),
                "in_size": 0, "out_size": 0, **{f: 0.0 for f in SYNAPSE_FIELDS}}
        return self.layers[self._layer_names[key]]

    def _watched_name(self, layer: nn.Module) -> str | None:
        return next((n for n, m in self._watch_syn if m is layer), None)

    # -- hooks -------------------------------------------------------------------------------
    def watch_synapses(self, model: nn.Module, *, dense: bool = False,
                       prefix: str = "") -> OpCounter:
        """Count every synaptic layer inside ``model`` while the counter is active.

        Args:
            model: the module whose ``Linear``/``Conv2d``/``ConvTranspose2d`` layers to watch.
            dense: count these layers as dense MACs even when fed binary values (ANN baselines).
            prefix: put before each layer's name in :attr:`layers` (e.g. ``"dec."``).
        """
        for name, module in model.named_modules():
            if isinstance(module, SYNAPTIC_TYPES):
                self._watch_syn.append((f"{prefix}{name}" if name else prefix.rstrip("."),
                                        module))
                if dense:
                    self._dense.add(id(module))
        return self

    def watch_spikes(self, layers: dict[str, nn.Module] | Iterable[tuple[str, nn.Module]]) -> OpCounter:
        """Count the spike output of these neuron modules (first element of a tuple output)."""
        items = layers.items() if isinstance(layers, dict) else layers
        self._watch_spk.extend(items)
        return self

    def __enter__(self) -> OpCounter:
        for _name, module in self._watch_syn:
            self._handles.append(module.register_forward_pre_hook(self._syn_hook))
        for name, module in self._watch_spk:
            self._handles.append(module.register_forward_hook(self._make_spk_hook(name)))
        return self

    def __exit__(self, *exc: object) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    def _syn_hook(self, module: nn.Module, args: tuple) -> None:
        self.add_layer_input(module, args[0].detach(), dense=id(module) in self._dense)

    def _make_spk_hook(self, name: str):
        def hook(module: nn.Module, _args: tuple, output: Tensor | tuple) -> None:
            spk = output[0] if isinstance(output, tuple) else output
            self.add_spikes(name, spk.detach(), leaky=leaks(module))
        return hook

    # -- result ------------------------------------------------------------------------------
    def counts(self, *, n_samples: int, timesteps: int) -> OpCounts:
        """Per-sample counts over everything seen so far.

        The newer counts (``dense_macs`` ... ``layers``) are ``None`` when some MACs or
        accumulates were added without a layer (``add_macs``, ``add_synaptic_ops`` or a direct
        ``+=``): they could not be split by layer, and a partial split is no count.
        """
        if n_samples < 1:
            raise ValueError(f"n_samples must be >= 1, got {n_samples}")
        total_spikes = sum(self.spikes.values())
        total_updates = sum(self.neuron_updates.values())
        return OpCounts(
            **self._detailed(n_samples),
            timesteps=int(timesteps),
            spikes=total_spikes / n_samples,
            spikes_per_layer={k: v / n_samples for k, v in self.spikes.items()},
            neurons_per_layer=dict(self.neurons),
            firing_rate=(total_spikes / total_updates) if total_updates else 0.0,
            synaptic_ops=self.synaptic_ops / n_samples,
            macs=self.macs / n_samples,
            neuron_updates=total_updates / n_samples,
            n_samples=int(n_samples),
        )

    @classmethod
    def merged(cls, counters: Iterable[OpCounter]) -> OpCounter:
        """One counter holding the totals of ``counters`` (e.g. one per time step), layer by
        layer; hooks are not carried over."""
        out = cls()
        for counter in counters:
            for field in ("macs", "synaptic_ops", "dense_macs", "effective_macs"):
                setattr(out, field, getattr(out, field) + getattr(counter, field))
            for table in ("spikes", "neuron_updates"):
                mine = getattr(out, table)
                for name, value in getattr(counter, table).items():
                    mine[name] = mine.get(name, 0.0) + value
            out.neurons.update(counter.neurons)
            for name, entry in counter.layers.items():
                mine = out.layers.setdefault(name, {**entry, **{
                    k: 0.0 for k, v in entry.items() if isinstance(v, float)}})
                for k, v in entry.items():
                    if isinstance(v, float):
                        mine[k] += v
                    elif k in ("in_size", "out_size", "neurons"):
                        mine[k] = v
        return out

    def _detailed(self, n: int) -> dict[str, Any]:
        """The newer :class:`OpCounts` fields, per sample (none if not attributable)."""
        synapses = [e for e in self.layers.values() if e["kind"] == "synapse"]
        attributed = (_close(sum(e["macs"] for e in synapses), self.macs)
                      and _close(sum(e["synaptic_ops"] for e in synapses), self.synaptic_ops))
        if not attributed:
            return {}

        def total(kind: str, field: str) -> float:
            return sum(e[field] for e in self.layers.values() if e["kind"] == kind)

        membrane = total("neuron", "updates")
        per_sample = {"updates", "spikes", *SYNAPSE_FIELDS}
        layers = {name: {k: (v / n if k in per_sample else v) for k, v in entry.items()}
                  for name, entry in self.layers.items()}
        return {
            "dense_macs": self.dense_macs / n,
            "effective_macs": self.effective_macs / n,
            "source_spikes": total("source", "spikes") / n,
            "source_updates": total("source", "updates") / n,
            "neuron_spikes": total("neuron", "spikes") / n,
            "membrane_updates": membrane / n,
            "params": float(sum(e["params"] for e in synapses)),
            "weight_reads": (self.macs + self.synaptic_ops) / n,
            "membrane_reads": membrane / n,
            "membrane_writes": membrane / n,
            "activation_reads": (total("synapse", "mac_inputs")
                                 + total("synapse", "spike_inputs")) / n,
            "activation_writes": (total("synapse", "mac_outputs")
                                  + total("neuron", "spikes")) / n,
            "layers": layers,
        }


def merge_counts(first: OpCounts, second: OpCounts) -> OpCounts:
    """Per-sample counts of two passes over the same samples (e.g. an encoder's, then the
    decoder's): every count summed, layers side by side (a name taken by both is summed).

    ``timesteps`` and ``n_samples`` are ``first``'s; ``firing_rate`` is recomputed from the sums
    (kept as ``first``'s when ``second`` updated no neuron). A newer count is ``None`` where
    either side lacks it.
    """
    def add(a: float | None, b: float | None) -> float | None:
        return None if a is None or b is None else a + b

    spikes = first.spikes + second.spikes
    updates = first.neuron_updates + second.neuron_updates
    rate = first.firing_rate if second.neuron_updates == 0 else (
        spikes / updates if updates else 0.0)
    layers = None
    if first.layers is not None and second.layers is not None:
        layers = {name: dict(entry) for name, entry in first.layers.items()}
        for name, entry in second.layers.items():
            if name not in layers:
                layers[name] = dict(entry)
                continue
            for k, v in entry.items():
                if isinstance(v, float):
                    layers[name][k] += v
    summed = {f: add(getattr(first, f), getattr(second, f)) for f in OpCounts.COUNT_FIELDS
              if f not in ("spikes", "synaptic_ops", "macs", "neuron_updates")}
    return OpCounts(
        timesteps=first.timesteps, spikes=spikes,
        spikes_per_layer={**first.spikes_per_layer, **{
            k: first.spikes_per_layer.get(k, 0.0) + v for k, v in second.spikes_per_layer.items()}},
        neurons_per_layer={**first.neurons_per_layer, **second.neurons_per_layer},
        firing_rate=rate, synaptic_ops=first.synaptic_ops + second.synaptic_ops,
        macs=first.macs + second.macs, neuron_updates=updates, n_samples=first.n_samples,
        **{**summed, "layers": layers})


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


def leaks(module: nn.Module) -> bool | None:
    """Whether a neuron module leaks: its ``beta`` (membrane decay) is below 1 somewhere.

    ``None`` for a module without ``beta`` (the kind of neuron is unknown).
    """
    beta = getattr(module, "beta", None)
    if beta is None:
        return None
    return bool((torch.as_tensor(beta) != 1).any())


# -- any torch model ---------------------------------------------------------------------------

def measure_ops(model: nn.Module, run: Callable[[], object], *, n_samples: int, timesteps: int,
                spiking: Mapping[str, nn.Module] | Sequence[type[nn.Module]] = (),
                dense: bool = False) -> OpCounts:
    """Per-sample op counts of any ``torch.nn.Module`` run over ``timesteps`` steps, counted by
    the hooks the built-in adapters use (:class:`OpCounter`), so an external model or a plugin
    is counted exactly like the built-in rows.

    Every ``nn.Linear``, ``nn.Conv2d`` and ``nn.ConvTranspose2d`` inside ``model`` is counted
    from the tensor it really receives on each call: a binary (spike) input costs one accumulate
    per spike per real connection (``synaptic_ops``), any other input one multiply-accumulate per
    connection (``macs``). Each spiking-neuron module's output is counted as spikes (its
    non-zeros) and neuron updates (its elements), once per call, i.e. per time step; a module
    that returns a tuple (``(spikes, state)``, as snntorch's, norse's and most LIF cells do) is
    counted by its first element.

    Args:
        model: the network; only its layers are watched, it is not called here.
        run: runs the forward pass(es) to count, e.g. ``lambda: model.generate(z)``, stepping
            ``model``'s layers over the time steps itself. Called once, under ``torch.no_grad``.
        n_samples: how many samples ``run`` produces (the counts are per sample), ``>= 1``.
        timesteps: the simulation steps ``T`` of one sample (1 for a non-spiking network).
        spiking: the spiking-neuron modules, as ``{layer name: module}``, or neuron classes
            (e.g. ``(snntorch.Leaky,)``) whose instances inside ``model`` are found by type and
            named by their path in ``model``.
        dense: count every synaptic layer as dense MACs even when fed spikes (an ANN on
            ordinary hardware multiplies every weight, zeros included).

    Returns:
        :class:`~adapters.base.OpCounts` per sample (``firing_rate`` = spikes / neuron updates).

    Raises:
        ValueError: ``n_samples`` or ``timesteps`` < 1, or neuron classes of which ``model``
            holds no instance.
        TypeError: ``model`` is not an ``nn.Module`` or ``spiking`` is neither form.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if isinstance(timesteps, bool) or not isinstance(timesteps, int) or timesteps < 1:
        raise ValueError(f"timesteps must be an int >= 1, got {timesteps!r}")
    if isinstance(spiking, Mapping):
        layers = dict(spiking)
    elif all(isinstance(kind, type) and issubclass(kind, nn.Module) for kind in spiking):
        kinds = tuple(spiking)
        layers = {name: module for name, module in model.named_modules()
                  if kinds and isinstance(module, kinds)}
        if kinds and not layers:
            raise ValueError(f"model holds no module of the spiking types "
                             f"{[k.__name__ for k in kinds]}")
    else:
        raise TypeError("spiking must map layer names to modules or list neuron classes, got "
                        f"{spiking!r}")
    counter = OpCounter().watch_synapses(model, dense=dense).watch_spikes(layers)
    with torch.no_grad(), counter:
        run()
    return counter.counts(n_samples=n_samples, timesteps=timesteps)
