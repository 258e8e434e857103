"""Reconstruction errors checked against hand-computed values."""

from __future__ import annotations

import math

import pytest
import torch

from benchmarks.metrics import keys as K
from benchmarks.metrics.reconstruction import BCE_EPS, reconstruction_errors


def _img(*pixels: float) -> torch.Tensor:
    """One image whose first pixels are ``pixels`` and the rest 0."""
    x = torch.zeros(1, 1, 28, 28)
    x.view(-1)[: len(pixels)] = torch.tensor(pixels)
    return x


def test_two_pixel_example():
    # Pixel 1: r = 0.25, t = 1; pixel 2: r = 0.5, t = 0; the other 782 pixels r = t = 0.
    recon, target = _img(0.25, 0.5), _img(1.0, 0.0)
    out = reconstruction_errors(recon, target)
    assert out[K.RECON_MSE] == pytest.approx((0.75**2 + 0.5**2) / 784)
    # Pixels with r = t = 0 cost -log(1 - eps) each after clamping.
    zero_cost = -math.log(1 - BCE_EPS)
    expected_bce = (-math.log(0.25) - math.log(0.5) + 782 * zero_cost) / 784
    assert out[K.RECON_BCE] == pytest.approx(expected_bce, rel=1e-9)


def test_perfect_and_worst_reconstruction():
    x = (torch.rand(4, 1, 28, 28, generator=torch.Generator().manual_seed(0)) > 0.5).float()
    perfect = reconstruction_errors(x, x)
    assert perfect[K.RECON_MSE] == 0.0 and perfect[K.RECON_BCE] < 1e-5
    worst = reconstruction_errors(1 - x, x)
    assert worst[K.RECON_MSE] == 1.0
    assert worst[K.RECON_BCE] == pytest.approx(-math.log(BCE_EPS), rel=1e-6)  # clamped, finite


def test_bad_inputs_rejected():
    x = torch.rand(2, 1, 28, 28)
    with pytest.raises(ValueError, match="shapes differ"):
        reconstruction_errors(x, x[:1])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        reconstruction_errors(x * 3, x)
    with pytest.raises(ValueError, match=r"\(N, 1, 28, 28\)"):
        reconstruction_errors(x.view(2, 784), x.view(2, 784))
