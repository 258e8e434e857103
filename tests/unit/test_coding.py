"""Spike coding and Bernoulli noise."""

from __future__ import annotations

import pytest
import torch

from adapters.coding import (
    bernoulli_noise,
    encode,
    latency_encode,
    make_generator,
    rate_encode,
    split_seed,
)


def test_rate_code_is_binary_time_first_and_tracks_intensity():
    x = torch.tensor([[0.0, 0.25, 1.0]]).expand(2000, 3)
    spikes = rate_encode(x, 8, generator=make_generator(0))
    assert spikes.shape == (8, 2000, 3)
    assert set(spikes.unique().tolist()) <= {0.0, 1.0}
    rates = spikes.mean(dim=(0, 1))
    assert rates[0] == 0 and rates[2] == 1
    assert abs(float(rates[1]) - 0.25) < 0.02


def test_rate_code_is_deterministic_under_a_seed():
    x = torch.rand(4, 10, generator=make_generator(1))
    a = rate_encode(x, 5, generator=make_generator(7))
    b = rate_encode(x, 5, generator=make_generator(7))
    c = rate_encode(x, 5, generator=make_generator(8))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_latency_code_fires_once_brighter_earlier():
    x = torch.tensor([[1.0, 0.5, 0.0]])
    spikes = latency_encode(x, 5)
    assert spikes.shape == (5, 1, 3)
    assert spikes[:, 0, 0].tolist() == [1, 0, 0, 0, 0]  # brightest at t=0
    assert spikes[:, 0, 1].tolist() == [0, 0, 1, 0, 0]  # (1-0.5)*4 = 2
    assert spikes[:, 0, 2].sum() == 0  # dark pixels stay silent


def test_bernoulli_noise_probability_and_range_checks():
    z = bernoulli_noise((20000,), 0.3, generator=make_generator(0))
    assert abs(float(z.mean()) - 0.3) < 0.02
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        bernoulli_noise((3,), 1.5, generator=make_generator(0))


def test_bad_inputs_rejected():
    with pytest.raises(ValueError, match="timesteps must be >= 1"):
        rate_encode(torch.zeros(1, 2), 0, generator=make_generator(0))
    with pytest.raises(ValueError, match="intensities must lie in"):
        latency_encode(torch.tensor([[1.5]]), 4)
    with pytest.raises(ValueError, match=r"unknown coding 'phase'.*'rate', 'latency'"):
        encode(torch.zeros(1, 1), 2, "phase", generator=make_generator(0))


def test_split_seed_separates_purposes_and_is_stable():
    assert split_seed(0, "data") != split_seed(0, "init")
    assert split_seed(3, "noise") == split_seed(3, "noise")
    assert split_seed(0, "noise") != split_seed(1, "noise")
