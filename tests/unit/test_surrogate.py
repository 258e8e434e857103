"""The surrogate-gradient backend on tiny synthetic tensors: neurons, latents, counts, configs."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

pytest.importorskip("snntorch")

from adapters.coding import encode, make_generator, split_seed  # noqa: E402
from adapters.opcount import OpCounter  # noqa: E402
from adapters.spiking import (  # noqa: E402
    Readout,
    SpikingLayer,
    bernoulli_spikes,
    encode_st,
    make_neuron,
)
from adapters.surrogate_gan import SurrogateGAN, _coverage  # noqa: E402
from adapters.surrogate_vae import SpikingPrior, SurrogateVAE  # noqa: E402

TINY_VAE = {"epochs": 1, "hidden": (16,), "latent": 6, "batch_size": 16, "timesteps": 3}
TINY_GAN = {"epochs": 1, "hidden": (16,), "noise_dim": 6, "batch_size": 16, "timesteps": 3}


def _images(n: int = 32, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, 1, 28, 28, generator=make_generator(seed))


def _identity_layer(neuron: str, beta: float = 0.5) -> SpikingLayer:
    syn = nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        syn.weight.fill_(1.0)
    return SpikingLayer(syn, make_neuron(neuron, beta, "fast_sigmoid", 25.0))


def test_lif_membrane_trace_by_hand():
    # I = 0.6 each step, beta = 0.5, threshold 1, reset by subtraction (one step delayed):
    # U0 = 0.6; U1 = 0.3 + 0.6 = 0.9; U2 = 0.45 + 0.6 = 1.05 -> spike; U3 = 0.525 + 0.6 - 1 = 0.125
    layer = _identity_layer("lif", beta=0.5)
    spikes = layer(torch.full((4, 1, 1), 0.6))
    assert spikes.flatten().tolist() == [0.0, 0.0, 1.0, 0.0]


def test_if_neuron_has_no_leak():
    # IF: U = 0.6, 1.2 -> spike, 1.8 - 1 = 0.8, 1.4 -> spike, 2.0 - 1 = 1.0 (not > 1)
    layer = _identity_layer("if", beta=0.5)  # beta is ignored for IF
    spikes = layer(torch.full((5, 1, 1), 0.6))
    assert spikes.flatten().tolist() == [0.0, 1.0, 0.0, 1.0, 0.0]
    assert float(layer.neuron.beta) == 1.0


def test_state_is_reset_between_forward_passes():
    layer = _identity_layer("lif", beta=0.9)
    x = torch.full((3, 2, 1), 0.7)
    first = layer(x)
    assert torch.equal(layer(x), first)


def test_surrogate_gradient_flows_through_spikes():
    layer = _identity_layer("lif", beta=0.9)
    x = torch.full((3, 1, 1), 0.9, requires_grad=True)
    layer(x).sum().backward()
    assert x.grad is not None and float(x.grad.abs().sum()) > 0


def test_membrane_readout_is_the_mean_potential():
    syn = nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        syn.weight.fill_(1.0)
    readout = Readout(syn, "membrane", make_neuron("lif", 0.5, "atan", 2.0))
    out = readout(torch.ones(3, 1, 1))  # U = 1, 1.5, 1.75
    assert out.item() == pytest.approx((1 + 1.5 + 1.75) / 3)


def test_bernoulli_spikes_are_binary_with_straight_through_gradient():
    q = torch.full((200, 4, 5), 0.3, requires_grad=True)
    z = bernoulli_spikes(q, generator=make_generator(0))
    assert set(z.unique().tolist()) <= {0.0, 1.0}
    assert abs(float(z.detach().mean()) - 0.3) < 0.03
    z.sum().backward()
    assert torch.equal(q.grad, torch.ones_like(q))


def test_encode_st_matches_coding_and_has_gradient():
    x = torch.rand(2, 1, 28, 28, generator=make_generator(1), requires_grad=True)
    for coding in ("rate", "latency"):
        spikes = encode_st(x, 4, coding, generator=make_generator(2))
        assert spikes.shape == (4, 2, 1, 28, 28)
        assert set(spikes.unique().tolist()) <= {0.0, 1.0}
        x.grad = None
        # Weighted by step: the latency total is constant, but a brighter pixel spikes earlier.
        (spikes * torch.arange(1.0, 5.0).view(4, 1, 1, 1, 1)).sum().backward()
        assert x.grad is not None and float(x.grad.abs().sum()) > 0
        if coding == "latency":
            assert float(x.grad.max()) <= 0


def test_hand_counted_ops_of_a_linear_fed_spikes():
    # 3 inputs -> 2 outputs over T = 2 steps; input spikes [1,0,1] then [0,0,1]: 3 spikes,
    # each reaching 2 targets -> 6 accumulates. Outputs with weights 1, bias 0:
    # I = [2, 2] then [1, 1]; beta = 0.5: U0 = 2 -> spike; U1 = 1 + 1 - 1 = 1 (not > 1) -> 2 spikes.
    syn = nn.Linear(3, 2, bias=False)
    with torch.no_grad():
        syn.weight.fill_(1.0)
    layer = SpikingLayer(syn, make_neuron("lif", 0.5, "fast_sigmoid", 25.0))
    spikes = torch.tensor([[[1.0, 0.0, 1.0]], [[0.0, 0.0, 1.0]]])
    counter = OpCounter().watch_synapses(layer).watch_spikes({"out": layer.neuron})
    with counter:
        out = layer(spikes)
    counts = counter.counts(n_samples=1, timesteps=2)
    assert out.squeeze(1).tolist() == [[1.0, 1.0], [0.0, 0.0]]
    assert counts.synaptic_ops == 6 and counts.macs == 0
    assert counts.spikes_per_layer == {"out": 2.0}
    assert counts.neuron_updates == 4 and counts.neurons_per_layer == {"out": 2}
    assert counts.firing_rate == 0.5


@pytest.fixture(scope="module")
def vae() -> SurrogateVAE:
    model = SurrogateVAE(TINY_VAE)
    model.fit(_images(), seed=0)
    return model


@pytest.fixture(scope="module")
def gan() -> SurrogateGAN:
    model = SurrogateGAN(TINY_GAN)
    model.fit(_images(), seed=0)
    return model


def test_vae_shapes_ranges_and_determinism(vae):
    x = vae.sample(7, seed=5)
    assert x.shape == (7, 1, 28, 28) and x.dtype == torch.float32
    assert float(x.min()) >= 0 and float(x.max()) <= 1
    assert torch.equal(vae.sample(7, seed=5), x)
    assert not torch.equal(vae.sample(7, seed=6), x)
    rec = vae.reconstruct(_images(5, seed=3))
    assert rec.shape == (5, 1, 28, 28) and rec.dtype == torch.float32
    assert torch.equal(vae.reconstruct(_images(5, seed=3)), rec)
    assert vae.learned_filters() is None  # no bank of image filters to draw


def test_vae_sample_is_decoded_from_bernoulli_prior_spikes(monkeypatch):
    vae = SurrogateVAE({**TINY_VAE, "prior": "fixed"})
    vae.fit(_images(), seed=0)
    seen = []
    original = vae.decoder.forward

    def spy(spikes):
        seen.append(spikes)
        return original(spikes)

    monkeypatch.setattr(vae.decoder, "forward", spy)
    vae.sample(400, seed=0)
    z = torch.cat(seen, dim=1)
    assert z.shape == (3, 400, 6)
    assert set(z.unique().tolist()) == {0.0, 1.0}
    assert abs(float(z.mean()) - vae.config.prior_p) < 0.03


def test_vae_counts_of_sample_and_reconstruct(vae):
    vae.sample(10, seed=0)
    c = vae.op_counts()
    assert c.n_samples == 10 and c.timesteps == 3 and c.macs == 0
    assert c.neurons_per_layer["latent"] == 6
    assert c.spikes_per_layer["latent"] > 0 and c.synaptic_ops > 0
    # The decoder's first synapses see exactly the latent spikes: 16 targets each.
    first = vae.decoder.layers[0].synapse
    assert isinstance(first, nn.Linear) and first.out_features == 16
    vae.reconstruct(_images(4))
    r = vae.op_counts()
    assert r.n_samples == 4 and "input" in r.spikes_per_layer
    assert r.synaptic_ops > c.synaptic_ops  # the encoder costs too


def test_gan_shapes_determinism_and_noise(gan):
    x = gan.sample(5, seed=1)
    assert x.shape == (5, 1, 28, 28) and x.dtype == torch.float32
    assert float(x.min()) >= 0 and float(x.max()) <= 1
    assert torch.equal(gan.sample(5, seed=1), x)
    assert not torch.equal(gan.sample(5, seed=2), x)
    noise = gan._noise(300, make_generator(0))
    assert noise.shape == (3, 300, 6) and set(noise.unique().tolist()) == {0.0, 1.0}
    with pytest.raises(NotImplementedError):
        gan.reconstruct(_images(2))
    assert gan.op_counts().spikes_per_layer["noise"] > 0


def test_training_is_deterministic_for_a_seed():
    a, b = SurrogateVAE(TINY_VAE), SurrogateVAE(TINY_VAE)
    ra = a.fit(_images(), seed=3)
    b.fit(_images(), seed=3)
    assert torch.equal(a.sample(4, seed=0), b.sample(4, seed=0))
    assert ra.steps == 2 and set(ra.history) >= {"loss", "bce", "latent_loss"}


def _is_rate_readout(x: torch.Tensor, steps: int) -> bool:
    """Every pixel a multiple of ``1/steps``: the output is a firing rate, not a sigmoid."""
    return torch.allclose(x * steps, (x * steps).round(), atol=1e-5)


def _vae_latency(m):  # at most one input spike per pixel over T steps
    m.reconstruct(_images(4))
    return m.op_counts().spikes_per_layer["input"] <= 784


def _vae_step_posterior(m):  # q[t] varies over steps (rate: one q for all steps)
    with torch.no_grad():
        q = m.encoder(encode(_images(16), 3, "rate", generator=make_generator(0)))
    return not all(torch.equal(q[0], q_t) for q_t in q[1:])


def _fixed_prior_loss(m):
    """The latent loss of posterior rates 0.5 everywhere, or None with a learned prior: the KL
    from Bernoulli(0.5) is then exactly 0, the MMD to sampled prior trains is not."""
    if m.prior is not None:
        return None
    q = torch.full((3, 8, 6), 0.5)
    return float(m._latent_loss(q, torch.zeros_like(q), make_generator(0)))


def _fitted(cls, config):
    model = cls(config)
    model.fit(_images(16), seed=0)
    return model


def _fit_variant(cls, tiny, changes):
    """Fit ``cls`` with ``changes`` over ``tiny``; refuse a change that keeps a default value."""
    assert all(getattr(cls.Config(), k) != v for k, v in changes.items()
               if k not in tiny), f"{changes} holds a default value: tests nothing"
    model = _fitted(cls, {**tiny, **changes})
    x = model.sample(3, seed=0)
    assert x.shape == (3, 1, 28, 28)
    return model, x


def _reconstructs(m) -> bool:
    """reconstruct runs and counts its latent spike train apart from the encoder's synapses."""
    x = m.reconstruct(torch.rand(4, 1, 28, 28, generator=torch.Generator().manual_seed(0)))
    layers = m.op_counts().layers
    return x.shape == (4, 1, 28, 28) and layers["latent"]["kind"] == "source" \
        and layers["enc.latent"]["kind"] == "synapse"


VAE_VARIANTS = [  # (changes from the defaults, a check the default model fails)
    ({"coding": "latency"}, _vae_latency),
    ({"readout": "rate"}, lambda m: _is_rate_readout(m.sample(5, seed=0), 3)),
    ({"neuron": "if"}, lambda m: float(m.decoder.layers[0].neuron.beta) == 1.0),
    ({"posterior": "step"}, lambda m: _vae_step_posterior(m) and _reconstructs(m)),
    ({"prior": "fixed", "latent_loss": "mmd"}, lambda m: (_fixed_prior_loss(m) or 0) > 0),
    ({"prior": "fixed"}, lambda m: _fixed_prior_loss(m) == 0),
    ({"architecture": "conv", "channels": (2, 3)},
     lambda m: isinstance(m.decoder.readout.synapse, nn.ConvTranspose2d)),
    ({"prior_hidden": 5}, lambda m: m.prior.hidden.synapse.out_features == 5),
]


@pytest.fixture(scope="module")
def default_vae() -> SurrogateVAE:
    return _fitted(SurrogateVAE, TINY_VAE)


@pytest.mark.parametrize(("changes", "check"), VAE_VARIANTS,
                         ids=[str(c) for c, _ in VAE_VARIANTS])
def test_vae_variants_differ_from_the_default(changes, check, default_vae):
    model, x = _fit_variant(SurrogateVAE, TINY_VAE, changes)
    assert float(x.min()) >= 0 and float(x.max()) <= 1
    assert check(model) and not check(default_vae)


def _gan_iid(m):  # noise drawn afresh each step (frozen: the same draw at every step)
    z = m._noise(50, make_generator(0))
    return not torch.equal(z[0], z[1])


def _gan_pack(k):
    spikes = encode(_images(6), 3, "rate", generator=make_generator(0))
    return lambda m: m.discriminator(spikes).shape == (6 // k, 1)


GAN_VARIANTS = [  # (changes from the defaults, a check the default model fails, or None)
    ({"coding": "latency"}, None),
    ({"readout": "rate"}, lambda m: _is_rate_readout(m.sample(5, seed=0), 3)),
    ({"noise_process": "iid"}, _gan_iid),
    ({"architecture": "conv", "channels": (2, 3)},
     lambda m: isinstance(m.generator.readout.synapse, nn.ConvTranspose2d)),
    ({"pack": 1}, _gan_pack(1)),
    ({"architecture": "conv", "channels": (2, 3), "pack": 3}, _gan_pack(3)),
    ({"minibatch_std": True}, lambda m: m.discriminator.batch_std_weight is not None),
    ({"spectral_norm": False},
     lambda m: not nn.utils.parametrize.is_parametrized(m.discriminator.readout.synapse)),
    ({"mode_seeking": 0.0}, None),
    ({"coverage": 0.0}, None),
    ({"coverage_pool": 4}, None),
]


@pytest.fixture(scope="module")
def default_gan() -> SurrogateGAN:
    return _fitted(SurrogateGAN, TINY_GAN)


@pytest.mark.parametrize(("changes", "check"), GAN_VARIANTS,
                         ids=[str(c) for c, _ in GAN_VARIANTS])
def test_gan_variants_differ_from_the_default(changes, check, default_gan):
    model, x = _fit_variant(SurrogateGAN, TINY_GAN, changes)
    if check is None:  # trained differently, so it generates other images from the same noise
        assert not torch.equal(x, default_gan.sample(3, seed=0))
    else:
        assert check(model) and not check(default_gan)


def test_progress_is_called_every_step():
    calls = []
    SurrogateVAE(TINY_VAE).fit(_images(), seed=0, progress=lambda d, t, p: calls.append((d, t)))
    assert calls == [(1, 2), (2, 2)]


def test_save_load_round_trip(vae, tmp_path):
    path = tmp_path / "vae.pt"
    vae.save(path)
    restored = SurrogateVAE(TINY_VAE)
    restored.load(path)
    assert torch.equal(restored.sample(6, seed=2), vae.sample(6, seed=2))
    other = SurrogateVAE({**TINY_VAE, "latent": 5})
    with pytest.raises(ValueError, match="saved with config"):
        other.load(path)


@pytest.mark.parametrize(("key", "value", "match"), [
    ("neuron", "izhikevich", r"SurrogateVAE.Config.neuron must be one of \['lif', 'if'\], "
                             r"got 'izhikevich'"),
    ("beta", 1.5, r"beta must be a number in \(0.0, 1.0\], got 1.5"),
    ("timesteps", 0, "timesteps must be an int >= 1, got 0"),
    ("timesteps", 8.0, "timesteps must be an int >= 1, got 8.0"),
    ("coding", "phase", r"coding must be one of \['rate', 'latency'\], got 'phase'"),
    ("readout", "voltage", "readout must be one of"),
    ("architecture", "rnn", "architecture must be one of"),
    ("hidden", (), r"hidden must be a non-empty tuple of ints >= 1, got \(\)"),
    ("hidden", [32], "hidden must be a non-empty tuple of ints"),
    ("channels", (4,), r"channels must be a tuple of 2 ints >= 1, got \(4,\)"),
    ("surrogate", "sigmoid", "surrogate must be one of"),
    ("prior_p", 1.0, r"prior_p must be a number in \(0.0, 1.0\)"),
    ("posterior", "gauss", r"posterior must be one of \['step', 'rate'\]"),
    ("latent_loss", "wasserstein", "latent_loss must be one of"),
    ("lr", 0.0, "lr must be a number > 0.0"),
    ("prior", "gaussian", r"prior must be one of \['fixed', 'learned'\], got 'gaussian'"),
    ("prior_hidden", 0, "prior_hidden must be an int >= 1"),
])
def test_vae_config_validation(key, value, match):
    with pytest.raises(ValueError, match=match):
        SurrogateVAE.Config(**{key: value})


def test_learned_prior_needs_the_kl_latent_loss():
    with pytest.raises(ValueError, match="latent_loss='mmd' needs prior='fixed'"):
        SurrogateVAE.Config(latent_loss="mmd")


LEARNED = {**TINY_VAE, "prior": "learned", "latent_loss": "kl", "prior_hidden": 7}


def test_learned_prior_is_causal():
    prior = SurrogateVAE(LEARNED).prior
    assert isinstance(prior, SpikingPrior)
    z = (torch.rand(5, 4, 6, generator=make_generator(0)) < 0.5).float()
    flipped = z.clone()
    flipped[2:] = 1 - flipped[2:]
    p, q = prior(z), prior(flipped)
    assert p.shape == (5, 4, 6)
    assert torch.equal(p[:3], q[:3])  # p[t] sees z[<t] only
    assert not torch.equal(p[3:], q[3:])


def test_learned_prior_sample_is_a_step_by_step_draw():
    prior = SurrogateVAE(LEARNED).prior
    with torch.no_grad():  # a prior that fires often enough to make the test bite
        prior.hidden.synapse.bias.fill_(0.6)
    z = prior.sample(5, 40, generator=make_generator(3))
    uniform = torch.rand((5, 40, 6), generator=make_generator(3))
    assert torch.equal(z, (uniform < prior(z)).float())  # each z[t] drawn from p(z[t] | z[<t])
    assert torch.equal(z, prior.sample(5, 40, generator=make_generator(3)))
    assert 0 < float(z.mean()) < 1


def test_learned_prior_kl_equals_the_fixed_prior_kl_when_it_outputs_a_constant():
    learned = SurrogateVAE(LEARNED)
    fixed = SurrogateVAE({**LEARNED, "prior": "fixed", "prior_p": 0.3})
    with torch.no_grad():
        learned.prior.out.weight.zero_()
        learned.prior.out.bias.fill_(math.log(0.3 / 0.7))
    q = torch.rand(3, 8, 6, generator=make_generator(1))
    z = (q > 0.5).float()
    gen = make_generator(0)
    expected = (q * (q / 0.3).log() + (1 - q) * ((1 - q) / 0.7).log()).sum(dim=(0, 2)).mean()
    assert torch.allclose(learned._latent_loss(q, z, gen), expected, atol=1e-5)
    assert torch.allclose(fixed._latent_loss(q, z, gen), expected, atol=1e-5)


def test_learned_prior_trains_and_its_operations_are_counted():
    model = SurrogateVAE(LEARNED)
    model.fit(_images(), seed=0)
    x = model.sample(9, seed=4)
    assert x.shape == (9, 1, 28, 28) and torch.equal(model.sample(9, seed=4), x)
    c = model.op_counts()
    # By hand: the prior's hidden synapses see z delayed by one step (7 targets per spike), its
    # output synapses the hidden spikes (6 targets each), the decoder's first layer z (16 each).
    z = model.prior.sample(3, 9, generator=make_generator(split_seed(4, "noise")))
    assert c.spikes_per_layer["latent"] == pytest.approx(float(z.sum()) / 9)
    hidden = float(c.spikes_per_layer["prior.hidden"]) * 9
    model._decode_counted(model.decoder, "latent", z)
    decoder = model.op_counts()
    assert hidden > 0 and float(z[:-1].sum()) > 0
    expected = float(z[:-1].sum()) * 7 + hidden * 6 + decoder.synaptic_ops * 9
    assert c.synaptic_ops * 9 == pytest.approx(expected)
    assert c.neurons_per_layer["prior.hidden"] == 7 and c.macs == 0


def test_gan_config_validation():
    with pytest.raises(ValueError, match=r"noise_process must be one of \['frozen', 'iid'\]"):
        SurrogateGAN.Config(noise_process="gaussian")
    with pytest.raises(ValueError, match=r"smooth must be a number in \(0.5, 1.0\], got 0.4"):
        SurrogateGAN.Config(smooth=0.4)
    with pytest.raises(ValueError, match="pack must be an int >= 1, got 0"):
        SurrogateGAN.Config(pack=0)
    with pytest.raises(ValueError, match="d_lr_scale must be a number > 0.0"):
        SurrogateGAN.Config(d_lr_scale=0.0)
    with pytest.raises(ValueError, match="init_gain must be a number > 0.0"):
        SurrogateGAN.Config(init_gain=0.0)
    with pytest.raises(ValueError, match="mode_seeking must be a number >= 0.0"):
        SurrogateGAN.Config(mode_seeking=-1.0)
    with pytest.raises(ValueError, match="coverage must be a number >= 0.0"):
        SurrogateGAN.Config(coverage=-0.5)
    with pytest.raises(ValueError, match=r"coverage_pool must be one of \[1, 2, 4, 7, 14, 28\]"):
        SurrogateGAN.Config(coverage_pool=3)
    with pytest.raises(ValueError, match=r"coverage_pool must be one of .*got 2.0"):
        SurrogateGAN.Config(coverage_pool=2.0)
    with pytest.raises(ValueError, match="spectral_norm must be a bool, got 1"):
        SurrogateGAN.Config(spectral_norm=1)
    with pytest.raises(ValueError, match=r"unknown config key\(s\) \['latent'\]"):
        SurrogateGAN({"latent": 3})


def test_packed_discriminator_scores_packs_of_images():
    model = SurrogateGAN({**TINY_GAN, "pack": 2, "minibatch_std": False})
    spikes = encode(_images(7), 4, "rate", generator=make_generator(0))
    logits = model.discriminator(spikes)
    assert logits.shape == (3, 1)  # 7 images -> 3 pairs, the odd one dropped
    first = model.discriminator(spikes[:, :2])
    assert torch.allclose(first, logits[:1])


def test_minibatch_std_feature_sees_batch_diversity():
    model = SurrogateGAN({**TINY_GAN, "minibatch_std": True})
    with torch.no_grad():
        model.discriminator.batch_std_weight.fill_(1.0)
    x = _images(8)
    varied = encode(x, 4, "rate", generator=make_generator(0))
    same = varied[:, :1].expand_as(varied).contiguous()
    d_varied, d_same = model.discriminator(varied), model.discriminator(same)
    plain = SurrogateGAN({**TINY_GAN, "minibatch_std": False})
    plain.discriminator.load_state_dict(
        {k: v for k, v in model.discriminator.state_dict().items() if k != "batch_std_weight"})
    # identical images: zero spread, so the logit is the plain one; varied: shifted by w·spread
    assert torch.allclose(d_same, plain.discriminator(same))
    assert not torch.allclose(d_varied, plain.discriminator(varied))


def test_init_gain_scales_generator_weights():
    small = SurrogateGAN({**TINY_GAN, "init_gain": 1.0, "epochs": 1})
    large = SurrogateGAN({**TINY_GAN, "init_gain": 3.0, "epochs": 1})
    small.fit(_images(1), seed=0)  # one image: fit initialises, takes one step
    large.fit(_images(1), seed=0)
    w_small = small.generator.layers[0].synapse.weight
    w_large = large.generator.layers[0].synapse.weight
    ratio = (w_large.abs().mean() / w_small.abs().mean()).item()
    assert 2.5 < ratio < 3.5


def test_spiking_layer_gradient_equals_a_step_by_step_simulation():
    # SpikingLayer runs its synapse once over all T steps and its neurons over views of the
    # result; the textbook loop applies the synapse at each step. Same spikes, same gradients.
    torch.manual_seed(0)
    layer = SpikingLayer(nn.Linear(5, 4), make_neuron("lif", 0.8, "atan", 2.0))
    x = (torch.rand(6, 3, 5) < 0.5).float().requires_grad_()
    y = layer(x)
    (y * torch.arange(1.0, 5.0)).sum().backward()
    grads = [x.grad.clone(), layer.synapse.weight.grad.clone()]
    x.grad, layer.synapse.weight.grad = None, None
    mem, out = torch.zeros(3, 4), []
    for t in range(6):
        spk, mem = layer.neuron(layer.synapse(x[t]), mem)
        out.append(spk)
    ref = torch.stack(out)
    (ref * torch.arange(1.0, 5.0)).sum().backward()
    assert torch.equal(y, ref) and float(y.sum()) > 0
    assert torch.allclose(grads[0], x.grad) and torch.allclose(grads[1], layer.synapse.weight.grad)
    assert float(grads[0].abs().sum()) > 0


def _flat(values: list[float]) -> torch.Tensor:
    return torch.tensor(values).view(-1, 1, 1, 1).expand(-1, 1, 28, 28)


def test_coverage_is_the_mean_distance_to_the_nearest_generated_image():
    real = _flat([0.0, 1.0])
    fake = _flat([0.1, 0.8, 0.5])
    # real 0 -> nearest 0.1 (0.01); real 1 -> nearest 0.8 (0.04): mean 0.025
    assert _coverage(fake, real, 1).item() == pytest.approx(0.025, abs=1e-5)
    # a generator that dropped the "1" mode pays for it: real 1 -> nearest 0.5 (0.25)
    assert _coverage(_flat([0.1, 0.0, 0.5]), real, 1).item() == pytest.approx((0.0 + 0.25) / 2, abs=1e-5)


def test_coverage_pulls_only_the_nearest_generated_image():
    real = _flat([0.0, 1.0])
    fake = _flat([0.1, 0.8, 0.5]).clone().requires_grad_()
    _coverage(fake, real, 1).backward()
    per_image = fake.grad.flatten(1).sum(1)
    assert per_image[2].item() == 0.0  # 0.5 is nobody's nearest
    assert per_image[0].item() > 0 and per_image[1].item() < 0  # 0.1 -> 0, 0.8 -> 1


def test_coverage_pooling_ignores_pixel_speckle():
    checker = (torch.arange(28).view(-1, 1) + torch.arange(28).view(1, -1)) % 2
    speckled = checker.float().view(1, 1, 28, 28)
    grey = torch.full((1, 1, 28, 28), 0.5)
    assert _coverage(speckled, grey, 1).item() == pytest.approx(0.25, abs=1e-5)
    assert _coverage(speckled, grey, 2).item() == pytest.approx(0.0, abs=1e-5)
