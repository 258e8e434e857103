"""Diffusion (``adapters.diffusion``, ``surrogate-ddpm``, ``ann-ddpm``): the forward processes
against their closed forms, the Bernoulli reverse step against Bayes' rule, the samplers' shapes
and determinism, and the operations of one denoiser call counted by hand, times the calls."""

from __future__ import annotations

import math

import pytest
import torch

import adapters
from adapters.diffusion import (
    bernoulli_q_probs,
    bernoulli_reverse_probs,
    cosine_alpha_bar,
    ddim_step,
    gaussian_q_sample,
    min_snr_weight,
    sampler_schedule,
)

pytest.importorskip("snntorch")

K = 50


def test_the_schedule_starts_at_one_decreases_and_ends_near_pure_noise():
    a = cosine_alpha_bar(K)
    assert a.shape == (K + 1,) and a[0] == 1.0
    assert bool((a[1:] < a[:-1]).all()) and float(a[-1]) < 1e-3
    keep = a[1:] / a[:-1]
    assert float(keep.min()) >= 0.001 - 1e-12  # the one-step keep rate is clipped
    with pytest.raises(ValueError, match="diffusion steps must be >= 1"):
        cosine_alpha_bar(0)


def test_gaussian_marginal_is_the_composition_of_its_one_step_kernels():
    a = cosine_alpha_bar(K)
    beta = 1 - a[1:] / a[:-1]
    coef, var = 1.0, 0.0  # x_k = coef·x_0 + N(0, var)
    for k in range(1, K + 1):
        coef = math.sqrt(1 - beta[k - 1]) * coef
        var = (1 - beta[k - 1]) * var + beta[k - 1]
        assert coef == pytest.approx(math.sqrt(a[k]), rel=1e-9)
        assert var == pytest.approx(1 - float(a[k]), abs=1e-9)
    # and q_sample draws from it: 200,000 draws of one pixel at k = 20
    gen = torch.Generator().manual_seed(0)
    x0 = torch.full((200_000,), 0.6)
    k = torch.full((200_000,), 20)
    x = gaussian_q_sample(x0, a[k], torch.randn(x0.shape, generator=gen))
    assert float(x.mean()) == pytest.approx(math.sqrt(a[20]) * 0.6, abs=0.01)
    assert float(x.var()) == pytest.approx(1 - float(a[20]), abs=0.01)


def test_bernoulli_marginal_is_the_product_of_its_one_step_flip_kernels():
    a = cosine_alpha_bar(K)
    beta = (1 - a[1:] / a[:-1]).tolist()
    m = torch.eye(2, dtype=torch.float64)  # m[i, j] = q(x_k = j | x_0 = i)
    for k in range(1, K + 1):
        b = beta[k - 1]
        step = torch.tensor([[1 - b / 2, b / 2], [b / 2, 1 - b / 2]], dtype=torch.float64)
        m = m @ step
        closed = bernoulli_q_probs(torch.tensor([0.0, 1.0], dtype=torch.float64),
                                   a[k].expand(2))
        assert torch.allclose(m[:, 1], closed, atol=1e-12)
    # a simulated chain of 50 flips lands where the closed form says
    gen = torch.Generator().manual_seed(1)
    x = torch.ones(100_000)
    for b in beta:
        flip = torch.rand(x.shape, generator=gen) < b
        x = torch.where(flip, torch.bernoulli(torch.full(x.shape, 0.5), generator=gen), x)
        assert x.dtype == torch.float32
    assert float(x.mean()) == pytest.approx(float(a[-1] + (1 - a[-1]) / 2), abs=0.01)


@pytest.mark.parametrize("x0", [0.0, 1.0])
@pytest.mark.parametrize("x_k", [0.0, 1.0])
def test_bernoulli_reverse_step_is_bayes_rule_given_the_clean_bit(x0, x_k):
    a = cosine_alpha_bar(K).tolist()
    k, s = 30, 12
    ratio = a[k] / a[s]

    def q(x_to: float, x_from: float, keep: float) -> float:  # P(x_to | x_from)
        p1 = keep * x_from + (1 - keep) / 2
        return p1 if x_to == 1 else 1 - p1

    joint = {b: q(x_k, b, ratio) * q(b, x0, a[s]) for b in (0.0, 1.0)}
    exact = joint[1.0] / (joint[0.0] + joint[1.0])
    got = bernoulli_reverse_probs(torch.tensor(x_k), torch.tensor(x0), a[k], a[s])
    assert float(got) == pytest.approx(exact, abs=1e-6)


def test_ddim_step_from_the_true_clean_image_lands_on_the_forward_process():
    a = cosine_alpha_bar(K).tolist()
    gen = torch.Generator().manual_seed(2)
    x0 = torch.rand(4, 1, 28, 28, generator=gen) * 2 - 1
    eps = torch.randn(x0.shape, generator=gen)
    x_k = math.sqrt(a[40]) * x0 + math.sqrt(1 - a[40]) * eps
    x_s = ddim_step(x_k, x0, a[40], a[10])  # the same noise, at the lower level
    assert torch.allclose(x_s, math.sqrt(a[10]) * x0 + math.sqrt(1 - a[10]) * eps, atol=1e-5)
    assert torch.allclose(ddim_step(x_k, x0, a[40], 1.0), x0, atol=1e-6)
    w = min_snr_weight(torch.tensor([0.5, 0.9, 0.99]))
    assert torch.allclose(w, torch.tensor([1.0, 5.0, 5.0]))  # SNR 1, 9 -> 5, 99 -> 5


def test_sampler_schedule_is_evenly_spaced_from_k_to_zero():
    assert sampler_schedule(1000, 4) == [1000, 750, 500, 250, 0]
    assert sampler_schedule(10, 10) == list(range(10, -1, -1))
    with pytest.raises(ValueError, match="sampler_steps"):
        sampler_schedule(10, 11)
    with pytest.raises(ValueError, match="sampler_steps"):
        adapters.create("ann-ddpm", {"diffusion_steps": 10, "sampler_steps": 11})


TINY = {"channels": [2, 3], "diffusion_steps": 20, "sampler_steps": 3, "epochs": 1,
        "batch_size": 32}
VARIANTS = [("ann-ddpm", "gaussian"), ("ann-ddpm", "bernoulli"),
            ("surrogate-ddpm", "gaussian"), ("surrogate-ddpm", "bernoulli")]


@pytest.fixture(scope="module")
def images() -> torch.Tensor:
    return torch.rand(64, 1, 28, 28, generator=torch.Generator().manual_seed(3))


@pytest.mark.parametrize(("name", "noise"), VARIANTS)
def test_samples_have_the_image_shape_and_range_and_repeat_with_the_seed(name, noise, images):
    torch.set_num_threads(1)
    model = adapters.create(name, {**TINY, "noise": noise, "timesteps": 2}
                            if name.startswith("surrogate") else {**TINY, "noise": noise})
    report = model.fit(images, seed=0)
    assert report.steps == 2 and math.isfinite(report.history["loss"][0])
    a, b = model.sample(7, seed=5), model.sample(7, seed=5)
    assert a.shape == (7, 1, 28, 28) and a.dtype == torch.float32
    assert float(a.min()) >= 0.0 and float(a.max()) <= 1.0
    assert torch.equal(a, b)
    spikes = model.op_counts().spikes_per_layer
    c = model.sample(7, seed=6)
    if name == "surrogate-ddpm":
        # an untrained tiny SNN's output layer may not depend on its input; the noise drawn
        # under another seed shows in the input layer's spikes
        assert model.op_counts().spikes_per_layer["denoiser.inp"] != spikes["denoiser.inp"]
    else:
        assert not torch.equal(a, c)
    other = adapters.create(model.name, dict(model.config.__dict__))
    other.fit(images, seed=0)
    assert torch.equal(other.sample(7, seed=5), a)  # same seed, same training: same images
    with pytest.raises(NotImplementedError, match="no encoder"):
        model.reconstruct(images[:2])


# Connections of one denoiser call, by hand, with channels (2, 3) and (2, 3, 5). Per spatial
# dimension: a 3×3 conv (padding 1) on 14, 7 or 4 positions reaches 3·14 - 2 = 40, 3·7 - 2 = 19
# or 3·4 - 2 = 10 input taps (the border outputs miss one); the stride-2 conv 14 -> 7 reaches
# 3·7 - 1 = 20 (only the first output misses one), 7 -> 4 reaches 2 + 3 + 3 + 2 = 10 (the first
# and last outputs miss one); the 4×4 stride-2 transposed conv 7 -> 14 places 4·7 - 2 = 26 (the
# first and last inputs lose one output each), the 3×3 one 4 -> 7 places 3·4 - 2 = 10.
INP = 40 * 40 * 4 * 2                 # 4 folded pixels -> c1 = 2, at 14×14
DOWN = 20 * 20 * 2 * 3                # c1 -> c2, 14 -> 7
UP = 26 * 26 * 3 * 2                  # c2 -> c1, 7 -> 14
MERGE = SKIP = 40 * 40 * 2 * 2        # c1 -> c1 at 14×14
OUT = 40 * 40 * 2 * 4                 # c1 -> 4 folded pixels
COUNTS = {
    # channels: (step features -> bias currents, every synapse after the input layer, neurons)
    (2, 3): (32 * (2 + 3 + 3 + 2 + 2),
             DOWN + 19 * 19 * 3 * 3 + UP + MERGE + SKIP + OUT,      # mid: c2 -> c2 at 7×7
             2 * 14 * 14 + 3 * 7 * 7 * 2 + 2 * 14 * 14 * 2),
    (2, 3, 5): (32 * (2 + 3 + 5 + 5 + 3 + 2 + 2),
                DOWN + 10 * 10 * 3 * 5 + 10 * 10 * 5 * 5            # down2 7 -> 4, bottom 4×4
                + 10 * 10 * 5 * 3 + 19 * 19 * 3 * 3                 # mid 4 -> 7, skip2 at 7×7
                + UP + MERGE + SKIP + OUT,
                2 * 14 * 14 + 3 * 7 * 7 + 5 * 4 * 4 * 2 + 3 * 7 * 7 + 2 * 14 * 14 * 2),
}


@pytest.mark.parametrize("channels", list(COUNTS))
def test_ann_ddpm_counts_every_call_of_its_sampler_by_hand(channels):
    model = adapters.create("ann-ddpm", {**TINY, "channels": list(channels)})
    model.sample(5, seed=0)
    c = model.op_counts()
    embed, hidden, _ = COUNTS[channels]
    per_call = embed + INP + hidden
    assert (c.macs, c.dense_macs, c.synaptic_ops, c.spikes, c.timesteps) == \
        (3 * per_call, 3 * per_call, 0, 0, 1)


@pytest.mark.parametrize("channels", list(COUNTS))
@pytest.mark.parametrize("noise", ["gaussian", "bernoulli"])
def test_surrogate_ddpm_counts_each_call_over_its_spike_steps(noise, channels):
    steps = 2
    model = adapters.create("surrogate-ddpm", {**TINY, "noise": noise, "timesteps": steps,
                                               "channels": list(channels)})
    model.sample(5, seed=0)
    c = model.op_counts()
    embed, hidden, neurons = COUNTS[channels]
    # the input current is computed once per call; the spiking layers run every spike step
    assert c.dense_macs == 3 * (embed + INP + steps * hidden)
    assert c.timesteps == steps
    if noise == "gaussian":  # x_k is real-valued: the input layer multiplies
        assert c.macs == 3 * (embed + INP)
    else:  # x_k is a spike frame: the input layer accumulates, one op per spike and synapse
        assert c.macs == 3 * embed
        assert c.synaptic_ops > 0
    # per sample: 3 calls × 2 spike steps × the neurons of every spiking layer
    assert c.neuron_updates == 3 * steps * neurons


def test_channels_are_two_or_three_levels():
    for bad in ([16], [16, 32, 64, 128]):
        with pytest.raises(ValueError, match=r"channels must be \(c1, c2\) or \(c1, c2, c3\)"):
            adapters.create("ann-ddpm", {"channels": bad})


@pytest.mark.parametrize(("clip", "after"), [(1.0, [2.4, 3.2]), (0.0, [-27.0, -36.0])])
def test_optimiser_step_clips_the_gradient_norm(clip, after):
    from adapters.torch_adapter import optimiser_step

    w = torch.nn.Parameter(torch.tensor([3.0, 4.0]))
    opt = torch.optim.SGD([w], lr=1.0)
    optimiser_step(opt, 10 * (w * torch.tensor([3.0, 4.0])).sum(), clip=clip)  # gradient norm 50
    assert torch.allclose(w.detach(), torch.tensor(after))
