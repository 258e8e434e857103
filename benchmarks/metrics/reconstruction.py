"""Reconstruction error of autoencoding adapters: per-pixel MSE and BCE against the test images."""

from __future__ import annotations

import torch
from torch import Tensor

from benchmarks.metrics import keys as K
from benchmarks.metrics.features import check_images

#: Predictions are clamped to ``[BCE_EPS, 1 - BCE_EPS]`` before the logarithm of the BCE, so a
#: confident wrong pixel costs at most ``-log(1e-6) ~ 13.8`` instead of infinity.
BCE_EPS = 1e-6


def reconstruction_errors(recon: Tensor, target: Tensor) -> dict[str, float]:
    """Per-pixel mean squared error and binary cross-entropy of reconstructions.

    ``MSE = mean((r - t)^2)`` and ``BCE = mean(-(t log r' + (1 - t) log(1 - r')))`` with
    ``r' = clamp(r, BCE_EPS, 1 - BCE_EPS)``, both averaged over every pixel of every image, in
    float64.

    Args:
        recon: float ``(N, 1, 28, 28)`` in ``[0, 1]``.
        target: float ``(N, 1, 28, 28)`` in ``[0, 1]`` (same shape as ``recon``).

    Returns:
        ``{K.RECON_MSE: float in [0, 1], K.RECON_BCE: float >= 0}``.
    """
    check_images(recon, "recon")
    check_images(target, "target")
    if recon.shape != target.shape:
        raise ValueError(f"recon and target shapes differ: {tuple(recon.shape)} vs "
                         f"{tuple(target.shape)}")
    r = recon.detach().double()
    t = target.detach().double()
    rc = r.clamp(BCE_EPS, 1.0 - BCE_EPS)
    bce = -(t * torch.log(rc) + (1.0 - t) * torch.log1p(-rc))
    return {K.RECON_MSE: float(((r - t) ** 2).mean()), K.RECON_BCE: float(bce.mean())}
