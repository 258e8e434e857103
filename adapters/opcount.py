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

Backends that do not run ``nn.Module`` layers (e.g. spyker) call :meth:`OpCounter.add_spikes`,
:meth:`OpCounter.add_synaptic_ops` and :meth:`OpCounter.add_macs` with their real tensors.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from adapters.base import OpCounts

SYNAPTIC_TYPES = (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)


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
        accumulates the layer performs for that input.
    """
    mask = mask.to(torch.float64)
    if isinstance(layer, nn.Linear):
        return float(mask.sum().item()) * layer.out_features
    if isinstance(layer, nn.Conv2d):
        ones = torch.ones(1, layer.in_channels // layer.groups, *layer.kernel_size,
                          dtype=torch.float64)
        if layer.groups != 1:
            raise NotImplementedError("grouped convolutions are not counted yet")
        # Summing the input channels first is exact: every channel sees the same kernel support.
        reach = F.conv2d(mask.sum(dim=1, keepdim=True), ones[:, :1], stride=layer.stride,
                         padding=layer.padding, dilation=layer.dilation)
        return float(reach.sum().item()) * layer.out_channels
    if isinstance(layer, nn.ConvTranspose2d):
        if layer.groups != 1:
            raise NotImplementedError("grouped transposed convolutions are not counted yet")
        ones = torch.ones(1, 1, *layer.kernel_size, dtype=torch.float64)
        reach = F.conv_transpose2d(mask.sum(dim=1, keepdim=True), ones, stride=layer.stride,
                                   padding=layer.padding, output_padding=layer.output_padding,
                                   dilation=layer.dilation)
        return float(reach.sum().item()) * layer.out_channels
    raise TypeError(f"cannot count connections of {type(layer).__name__}; "
                    f"supported: {[t.__name__ for t in SYNAPTIC_TYPES]}")


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
        self._watch_syn: list[tuple[str, nn.Module]] = []
        self._dense: set[int] = set()
        self._watch_spk: list[tuple[str, nn.Module]] = []
        self._handles: list[torch.utils.hooks.RemovableHandle] = []

    # -- manual accounting -------------------------------------------------------------------
    def add_macs(self, n: float) -> None:
        self.macs += float(n)

    def add_synaptic_ops(self, n: float) -> None:
        self.synaptic_ops += float(n)

    def add_spikes(self, name: str, spikes: Tensor, *, batch_dim: int = 0) -> None:
        """Count one call's spike tensor of a spiking layer (one time step, or ``(T, N, ...)``).

        Args:
            name: layer name.
            spikes: binary tensor; its elements are neuron updates, its non-zeros spikes.
            batch_dim: which dimension is the batch (1 for a time-first ``(T, N, ...)`` tensor).
        """
        n_batch = spikes.shape[batch_dim]
        per_sample = spikes.numel() // max(n_batch, 1)
        if batch_dim == 1:
            per_sample //= spikes.shape[0]
        self.spikes[name] = self.spikes.get(name, 0.0) + float((spikes != 0).sum().item())
        self.neuron_updates[name] = self.neuron_updates.get(name, 0.0) + float(spikes.numel())
        self.neurons[name] = int(per_sample)

    def add_layer_input(self, layer: nn.Module, x: Tensor, *, dense: bool = False) -> None:
        """Count what a synaptic layer does with input ``x``: accumulates if binary, else MACs.

        ``dense=True`` counts MACs whatever the input holds (a non-spiking network on ordinary
        hardware multiplies every weight, zeros included).
        """
        if not dense and is_binary(x):
            self.synaptic_ops += connection_count(layer, (x != 0).to(torch.float32))
        else:
            self.macs += connection_count(layer, torch.ones_like(x, dtype=torch.float32))

    # -- hooks -------------------------------------------------------------------------------
    def watch_synapses(self, model: nn.Module, *, dense: bool = False) -> OpCounter:
        """Count every synaptic layer inside ``model`` while the counter is active.

        Args:
            model: the module whose ``Linear``/``Conv2d``/``ConvTranspose2d`` layers to watch.
            dense: count these layers as dense MACs even when fed binary values (ANN baselines).
        """
        for name, module in model.named_modules():
            if isinstance(module, SYNAPTIC_TYPES):
                self._watch_syn.append((name, module))
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
        def hook(_module: nn.Module, _args: tuple, output: Tensor | tuple) -> None:
            spk = output[0] if isinstance(output, tuple) else output
            self.add_spikes(name, spk.detach())
        return hook

    # -- result ------------------------------------------------------------------------------
    def counts(self, *, n_samples: int, timesteps: int) -> OpCounts:
        """Per-sample counts over everything seen so far."""
        if n_samples < 1:
            raise ValueError(f"n_samples must be >= 1, got {n_samples}")
        total_spikes = sum(self.spikes.values())
        total_updates = sum(self.neuron_updates.values())
        return OpCounts(
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
