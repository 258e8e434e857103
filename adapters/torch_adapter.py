"""Plumbing shared by the adapters whose networks are torch modules (``ann``, ``surrogate``,
and the input check of ``stdp``): image and count checks, shuffled mini-batches, per-epoch
training curves, the op counts kept from the last measured pass, saving/loading the modules
with their config, and running them on a device with optional mixed precision.

**Device.** A :class:`TorchModuleAdapter` can run on any device torch has (CPU, CUDA, MPS) once
its code follows the rules below; it says so by setting ``device_types = TORCH_DEVICES`` (the
``ann`` and ``surrogate`` adapters do). Until then it runs on the CPU, and its records say why. The
helpers are what a subclass needs for that, and all it needs:

* :attr:`~adapters.base.GenerativeAdapter.device` — where its modules live once
  :meth:`~TorchModuleAdapter.use_device` has moved them;
* :meth:`~TorchModuleAdapter._to_device` — a tensor there (the training set once per ``fit``,
  each index batch, noise drawn on the CPU);
* random draws come from CPU generators and are moved (:func:`adapters.coding.bernoulli`);
  initial weights are drawn on the CPU and then moved (:meth:`~TorchModuleAdapter._init_parameters`);
* ``sample`` / ``reconstruct`` return CPU tensors (``.cpu()`` of the result).

On the CPU every one of these is the identity: the CPU path runs the operations it always ran.

**Mixed precision.** ``amp = "bf16"`` in a config (:data:`Amp`, off by default) runs the
training forward passes under ``torch.autocast`` in bfloat16 (:meth:`~TorchModuleAdapter._autocast`);
network outputs are cast back to float32 before the losses, and :func:`binary_cross_entropy`
leaves autocast (CUDA refuses it there). Sampling and reconstruction stay in float32.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from adapters.base import FitReport, GenerativeAdapter, OpCounts, ProgressFn, config_dict
from adapters.coding import make_generator, split_seed
from adapters.io import atomic_torch_save, load_weights
from adapters.seeding import init_parameters_

logger = logging.getLogger(__name__)

#: Mixed precision of training: ``"off"`` (float32) or ``"bf16"`` (autocast to bfloat16).
Amp = Literal["off", "bf16"]
_CPU = torch.device("cpu")
#: The ``device_types`` of an adapter whose code follows the device rules (module docstring).
TORCH_DEVICES: frozenset[str] = frozenset({"cpu", "cuda", "mps"})

#: The seed stream each named module's initial weights are drawn from (``split_seed`` labels).
INIT_STREAMS: dict[str, str] = {"encoder": "init-enc", "decoder": "init-dec", "prior": "init-prior",
                                "generator": "init-gen", "discriminator": "init-disc"}


def check_images(x: Any) -> None:
    """Reject anything but a ``(N, 1, 28, 28)`` tensor with values in ``[0, 1]``."""
    if not isinstance(x, Tensor) or x.dim() != 4 or tuple(x.shape[1:]) != (1, 28, 28):
        shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(f"images must be a float tensor of shape (N, 1, 28, 28), got {shape}")
    if x.numel() and (float(x.min()) < 0.0 or float(x.max()) > 1.0):
        raise ValueError("image values must lie in [0, 1]")


def check_n(n: Any) -> None:
    """Reject a sample count that is not an int ``>= 1``."""
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be an int >= 1, got {n!r}")


def shuffled_batches(n: int, batch_size: int, gen: torch.Generator) -> list[Tensor]:
    """Indices ``0..n-1`` in an order drawn from ``gen``, cut into batches of ``batch_size``."""
    order = torch.randperm(n, generator=gen)
    return [order[i:i + batch_size] for i in range(0, n, batch_size)]


def optimiser_step(opt: torch.optim.Optimizer, loss: Tensor, *, clip: float = 0.0) -> None:
    """One step of ``opt`` down the gradient of ``loss`` (gradients cleared first); with
    ``clip > 0`` the gradient of all of ``opt``'s parameters is first scaled to a norm of at most
    ``clip``."""
    opt.zero_grad(set_to_none=True)
    loss.backward()
    if clip > 0:
        nn.utils.clip_grad_norm_([p for g in opt.param_groups for p in g["params"]], clip)
    opt.step()


def binary_cross_entropy(x_hat: Tensor, x: Tensor) -> Tensor:
    """``F.binary_cross_entropy(x_hat, x, reduction="none")``; inside an autocast region it is
    computed outside it, in float32 (CUDA's autocast refuses it: it is unsafe in half
    precision)."""
    if torch.is_autocast_enabled(x_hat.device.type):
        with torch.autocast(x_hat.device.type, enabled=False):
            return F.binary_cross_entropy(x_hat.float(), x.float(), reduction="none")
    return F.binary_cross_entropy(x_hat, x, reduction="none")


def discriminator_loss(d_real: Tensor, d_fake: Tensor, smooth: float) -> Tensor:
    """The non-saturating GAN discriminator loss with one-sided label smoothing,
    ``BCE(D(x), smooth) + mean softplus(D(G(z)))``, from logits ``(N, 1)``."""
    return (F.binary_cross_entropy_with_logits(d_real, torch.full_like(d_real, smooth))
            + F.softplus(d_fake).mean())


def _plain(config: dict[str, Any]) -> dict[str, Any]:
    """A config as JSON/torch.save round-trips it (tuples become lists)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in config.items()}


class TorchModuleAdapter(GenerativeAdapter):
    """A :class:`GenerativeAdapter` whose state is a few named ``nn.Module``\\ s.

    Subclasses return them from :meth:`_modules` and set ``self._counts`` from the real forward
    pass of ``sample`` / ``reconstruct``. A subclass whose code follows the device rules (module
    docstring) sets ``device_types = TORCH_DEVICES`` and runs on any torch device; one that does
    not runs on the CPU.
    """

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        self._counts: OpCounts | None = None

    def use_device(self, device: torch.device | str) -> None:
        """Move every module to ``device``; ``fit``, ``sample`` and ``reconstruct`` run there."""
        super().use_device(device)
        for module in self._modules().values():
            module.to(self.device)

    def _to_device(self, x: Tensor) -> Tensor:
        """``x`` on this adapter's device (itself, not a copy, where it already is)."""
        return x.to(self.device)

    def _autocast(self) -> contextlib.AbstractContextManager[Any]:
        """The context of a training forward pass: autocast to bfloat16 on this adapter's device
        when the config asks for ``amp = "bf16"``, else nothing."""
        if getattr(self.config, "amp", "off") == "bf16":
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def op_counts(self) -> OpCounts:
        if self._counts is None:
            raise RuntimeError(f"{self.name}: op_counts() needs a sample() or reconstruct() first")
        return self._counts

    def _modules(self) -> dict[str, nn.Module]:
        raise NotImplementedError

    def _set_eval(self, mode: bool) -> None:
        for module in self._modules().values():
            module.train(not mode)

    def _init_parameters(self, seed: int) -> None:
        """Draw every module's initial weights from its own stream of ``seed``
        (:data:`INIT_STREAMS`), so adding a module leaves the others' weights as they were.

        The draws are made on the CPU (the generators' device) and the weights moved to
        :attr:`device` afterwards: one seed, the same initial weights on every device.
        """
        for name, module in self._modules().items():
            on_cpu = module.to(_CPU) if self.device != _CPU else module
            init_parameters_(on_cpu, make_generator(split_seed(seed, INIT_STREAMS[name])))
            if self.device != _CPU:
                module.to(self.device)

    def _begin_fit(self, train: Tensor, seed: int, *streams: str) -> list[torch.Generator]:
        """Check ``train``, draw the initial weights of ``seed`` and return one generator per
        named seed stream (``split_seed`` labels such as ``"data"``, ``"noise-train"``)."""
        check_images(train)
        self._init_parameters(seed)
        return [make_generator(split_seed(seed, stream)) for stream in streams]

    def _parameters(self) -> list[nn.Parameter]:
        """The trainable parameters of all modules."""
        return [p for module in self._modules().values() for p in module.parameters()]

    def save(self, path: str | Path) -> None:
        atomic_torch_save({"config": config_dict(self.config),
                           "state": {k: m.state_dict() for k, m in self._modules().items()}}, path)

    def load(self, path: str | Path) -> None:
        """Load weights saved by :meth:`save` with the same config (else ``ValueError``), onto
        :attr:`device` (a file saved on any device loads on any other)."""
        blob = load_weights(path)
        saved, current = _plain(dict(blob["config"])), _plain(config_dict(self.config))
        if saved != current:
            raise ValueError(f"{path} was saved with config {saved}, not {current}")
        for key, module in self._modules().items():
            module.load_state_dict(blob["state"][key])
        self._set_eval(True)


class EpochHistory:
    """The epochs of a ``fit``: shuffled index batches, per-epoch means of per-batch training
    values, ``fit``'s progress calls and its :class:`FitReport`.

    Each :meth:`add` is one optimiser step over ``n`` images; at the end of each epoch of
    :meth:`batches` the epoch's image-weighted means (float64 sums) are appended to
    :attr:`history` and logged.

    Args:
        keys: names of the values passed to :meth:`add`, in order.
        epochs: passes over the training set.
        progress: ``progress(done, total, postfix)`` after every step, or ``None``.
        shown: the keys ``postfix`` holds (default: all).
        name: the model's name in the log lines.
    """

    def __init__(self, keys: Sequence[str], *, epochs: int, progress: ProgressFn | None,
                 shown: Sequence[str] | None = None, name: str = "") -> None:
        self.keys = tuple(keys)
        self.shown = self.keys if shown is None else tuple(shown)
        self.epochs, self.progress, self.name = epochs, progress, name
        self.history: dict[str, list[float]] = {key: [] for key in self.keys}
        self.steps, self.total = 0, 0
        self._sums = torch.zeros(len(self.keys), dtype=torch.float64)
        self._start = time.perf_counter()

    def batches(self, n_train: int, batch_size: int, order: torch.Generator) -> Iterator[Tensor]:
        """Index batches of every epoch, each epoch in an order drawn from ``order`` when it
        starts (:func:`shuffled_batches`); an epoch's means are recorded after its last batch."""
        self.total = self.epochs * math.ceil(n_train / batch_size)
        for epoch in range(self.epochs):
            yield from shuffled_batches(n_train, batch_size, order)
            for key, value in zip(self.keys, (self._sums / n_train).tolist(), strict=True):
                self.history[key].append(value)
            self._sums = torch.zeros(len(self.keys), dtype=torch.float64)
            logger.info("%s epoch %d: %s", self.name, epoch + 1,
                        {key: round(values[-1], 4) for key, values in self.history.items()})

    def add(self, n: int, *values: float) -> None:
        """Record one step's ``values`` (one per key), measured on ``n`` images."""
        self.steps += 1
        self._sums += torch.tensor(values, dtype=torch.float64) * n
        if self.progress is not None:
            self.progress(self.steps, self.total,
                          {k: v for k, v in zip(self.keys, values, strict=True) if k in self.shown})

    def report(self) -> FitReport:
        """The :class:`FitReport` of the ``fit``, timed from this object's creation."""
        return FitReport(epochs=self.epochs, steps=self.steps,
                         train_seconds=time.perf_counter() - self._start, history=self.history)
