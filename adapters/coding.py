"""Spike coding shared by every backend: Bernoulli noise, rate coding and latency coding.

All spike tensors are time-first ``(T, N, ...)``, float32, values in ``{0, 1}``. Every random
function takes an explicit ``torch.Generator``; none touches global RNG state.

Generators live on the CPU (:func:`make_generator`), on every device a model runs on: a draw
whose operands are on an accelerator is made on the generator's device and its result moved to
theirs (:func:`bernoulli`), so one seed gives the same noise and spike trains on every device.
Functions that take a tensor return their result on that tensor's device.
"""

from __future__ import annotations

import typing
from typing import Literal

import torch
from torch import Tensor

Coding = Literal["rate", "latency"]
CODINGS: tuple[str, ...] = typing.get_args(Coding)


def make_generator(seed: int) -> torch.Generator:
    """A CPU generator seeded with ``seed`` (the only kind the suite draws from, whatever the
    device: see the module docstring)."""
    gen = torch.Generator()
    gen.manual_seed(int(seed))
    return gen


def split_seed(seed: int, purpose: str) -> int:
    """A deterministic sub-seed of ``seed`` for one purpose ("data", "init", "noise", ...)."""
    acc = int(seed) * 1_000_003
    for ch in purpose:
        acc = (acc * 131 + ord(ch)) % (2**61 - 1)
    return acc


def bernoulli(probs: Tensor, *, generator: torch.Generator) -> Tensor:
    """``torch.bernoulli(probs)`` drawn from ``generator``, on ``probs``'s device.

    Where ``probs`` lives elsewhere than the generator (an accelerator), the draw is made on the
    generator's device and moved back: the same generator state gives the same draws on every
    device. On the generator's device this is ``torch.bernoulli`` itself.
    """
    if probs.device == generator.device:
        return torch.bernoulli(probs, generator=generator)
    return torch.bernoulli(probs.to(generator.device), generator=generator).to(probs.device)


def bernoulli_noise(shape: tuple[int, ...], p: float | Tensor, *,
                    generator: torch.Generator) -> Tensor:
    """Bernoulli process: independent spikes with probability ``p``.

    Args:
        shape: output shape, e.g. ``(T, N, D)`` for a spike train or ``(N, D)`` for one draw.
        p: firing probability in ``[0, 1]``; a scalar or a tensor broadcastable to ``shape``.
        generator: the RNG to draw from.

    Returns:
        float32 tensor of ``shape`` with values in ``{0, 1}``, on the generator's device (the
        CPU); a model moves it to its own.
    """
    probs = torch.as_tensor(p, dtype=torch.float32).expand(shape)
    if bool(((probs < 0) | (probs > 1)).any()):
        raise ValueError("Bernoulli probabilities must lie in [0, 1]")
    return torch.bernoulli(probs, generator=generator)


def rate_encode(x: Tensor, timesteps: int, *, generator: torch.Generator) -> Tensor:
    """Rate (Bernoulli) coding: at each step a pixel of intensity ``v`` spikes with probability v.

    Args:
        x: intensities in ``[0, 1]``, shape ``(N, ...)``.
        timesteps: ``T >= 1``.

    Returns:
        ``(T, N, ...)`` float32 spikes, on ``x``'s device (drawn as :func:`bernoulli` draws).
    """
    _check(x, timesteps)
    return bernoulli(x.unsqueeze(0).expand(timesteps, *x.shape).float(), generator=generator)


def latency_encode(x: Tensor, timesteps: int, *, threshold: float = 0.01) -> Tensor:
    """Temporal (time-to-first-spike) coding: one spike per pixel, brighter pixels earlier.

    A pixel of intensity ``v > threshold`` spikes once at step ``round((1 - v) * (T - 1))``; pixels at
    or below ``threshold`` never spike. Deterministic.

    Args:
        x: intensities in ``[0, 1]``, shape ``(N, ...)``.
        timesteps: ``T >= 1``.
        threshold: intensities at or below this stay silent.

    Returns:
        ``(T, N, ...)`` float32 spikes, at most one per pixel.
    """
    _check(x, timesteps)
    t_fire = torch.round((1.0 - x.float()) * (timesteps - 1)).long()
    steps = torch.arange(timesteps, device=x.device).view(timesteps, *([1] * x.dim()))
    return ((steps == t_fire.unsqueeze(0)) & (x.unsqueeze(0) > threshold)).float()


def encode(x: Tensor, timesteps: int, coding: str, *, generator: torch.Generator) -> Tensor:
    """Encode intensities with the named coding (``"rate"`` or ``"latency"``)."""
    if coding == "rate":
        return rate_encode(x, timesteps, generator=generator)
    if coding == "latency":
        return latency_encode(x, timesteps)
    raise ValueError(f"unknown coding {coding!r}; allowed: {list(CODINGS)}")


def _check(x: Tensor, timesteps: int) -> None:
    if timesteps < 1:
        raise ValueError(f"timesteps must be >= 1, got {timesteps}")
    if x.numel() and (float(x.min()) < 0.0 or float(x.max()) > 1.0):
        raise ValueError(f"intensities must lie in [0, 1], got [{float(x.min())}, {float(x.max())}]")
