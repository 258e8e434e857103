"""Conversion backend: pure helpers (no TensorFlow) and, marked ``conversion``, the real toolbox.

The unmarked tests run in the main environment; the ``conversion`` ones need TensorFlow + tf_keras
+ SNN Toolbox (``tox -e conversion``) and skip cleanly elsewhere. None of them imports ``tests``
(the toolbox wheel installs a top-level package of that name).
"""

from __future__ import annotations

import dataclasses
import importlib.util
import math

import numpy as np
import pytest
import torch
from torch import nn

from adapters import snntoolbox_compat as compat
from adapters.ann import build_mlp
from adapters.base import config_from_dict
from adapters.conversion import (
    ConversionGAN,
    ConversionVAE,
    StepCounts,
    agreement,
    chw_to_hwc_order,
    conv_kernel,
    dense_kernel,
    mlp_layers,
)

HAS_TF = importlib.util.find_spec("tensorflow") is not None


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# -- configs ---------------------------------------------------------------------------------
def test_configs_extend_the_ann_configs():
    vae, gan = ConversionVAE.Config(), ConversionGAN.Config()
    assert (vae.hidden, vae.latent, vae.prior_p, vae.timesteps) == (256, 32, 0.5, 100)
    assert (gan.hidden, gan.noise_dim, gan.noise_p, gan.timesteps) == (256, 32, 0.5, 100)
    assert vae.percentile == 99.9 and vae.sim_batch_size >= 1


@pytest.mark.parametrize("cls", [ConversionVAE, ConversionGAN])
@pytest.mark.parametrize("field,value,match", [
    ("timesteps", 0, "timesteps must be an int >= 1"),
    ("sim_batch_size", -1, "sim_batch_size must be an int >= 1"),
    ("norm_samples", 2.5, "norm_samples must be an int >= 1"),
    ("percentile", 0.0, r"percentile must be a number in \(0.0, 100.0\], got 0.0"),
    ("percentile", 101.0, r"percentile must be a number in \(0.0, 100.0\], got 101.0"),
    ("hidden", 0, "hidden must be an int >= 1, got 0"),
    ("hidden", 256.0, "hidden must be an int >= 1, got 256.0"),
])
def test_config_rejects_bad_values(cls, field, value, match):
    with pytest.raises(ValueError, match=match):
        cls.Config(**{field: value})


def test_config_rejects_unknown_keys():
    with pytest.raises(ValueError, match=r"unknown config key\(s\) \['timestep'\].*allowed"):
        config_from_dict(ConversionVAE.Config, {"timestep": 10})
    with pytest.raises(ValueError, match="latent"):  # a VAE field is not a GAN field
        config_from_dict(ConversionGAN.Config, {"latent": 8})


@pytest.mark.skipif(HAS_TF, reason="TensorFlow is installed here")
def test_adapter_without_tensorflow_names_the_tox_env():
    with pytest.raises(ImportError, match="tox -e conversion"):
        ConversionVAE({"epochs": 1})


# -- weight layout ---------------------------------------------------------------------------
def test_dense_kernel_is_the_transpose():
    layer = nn.Linear(5, 3)
    kernel = dense_kernel(layer)
    assert kernel.shape == (5, 3) and kernel.dtype == np.float32
    np.testing.assert_array_equal(kernel, layer.weight.detach().numpy().T)
    x = torch.rand(4, 5, generator=_gen())
    keras_like = x.numpy() @ kernel + layer.bias.detach().numpy()
    np.testing.assert_allclose(keras_like, layer(x).detach().numpy(), rtol=1e-6, atol=1e-6)


def test_conv_kernels_are_permuted_to_keras_layout():
    conv = nn.Conv2d(3, 8, kernel_size=(2, 5))
    k = conv_kernel(conv)
    assert k.shape == (2, 5, 3, 8)  # (kh, kw, in, out)
    assert k[1, 4, 2, 7] == conv.weight[7, 2, 1, 4].item()
    tconv = nn.ConvTranspose2d(6, 4, kernel_size=4, stride=2, padding=1)
    kt = conv_kernel(tconv)
    assert kt.shape == (4, 4, 4, 6)  # (kh, kw, out, in)
    assert kt[0, 3, 1, 5] == tconv.weight[5, 1, 0, 3].item()
    with pytest.raises(TypeError, match="Conv2d"):
        conv_kernel(nn.Linear(2, 2))


def test_chw_to_hwc_order_reorders_dense_columns():
    c, h, w = 2, 3, 4
    order = chw_to_hwc_order(c, h, w)
    assert sorted(order.tolist()) == list(range(c * h * w))
    layer = nn.Linear(5, c * h * w)
    x = torch.rand(3, 5, generator=_gen(1))
    torch_img = layer(x).detach().reshape(3, c, h, w)  # torch: (C, H, W)
    kernel = dense_kernel(layer)[:, order.numpy()]
    bias = layer.bias.detach().numpy()[order.numpy()]
    keras_flat = x.numpy() @ kernel + bias  # Keras: reshaped to (H, W, C)
    np.testing.assert_allclose(keras_flat.reshape(3, h, w, c),
                               torch_img.permute(0, 2, 3, 1).numpy(), rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match="height must be >= 1"):
        chw_to_hwc_order(1, 0, 1)


def test_mlp_layers_reads_build_mlp():
    specs = mlp_layers(build_mlp([8, 16, 16, 784], out_activation="sigmoid"))
    assert [s.activation for s in specs] == ["relu", "relu", "sigmoid"]
    assert [s.linear.out_features for s in specs] == [16, 16, 784]
    assert [s.activation for s in mlp_layers(build_mlp([4, 3, 2]))] == ["relu", "linear"]


@pytest.mark.parametrize("net,match", [
    (build_mlp([4, 3, 2], hidden_activation="leaky_relu"), "LeakyReLU"),
    (nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2), nn.ReLU()), "no ReLU after the last"),
    (nn.Sequential(nn.Linear(4, 2), nn.Sigmoid()), ">= 2 Linear"),
    (nn.Sequential(nn.Linear(4, 3), nn.Sigmoid(), nn.Linear(3, 2)), "Sigmoid"),
])
def test_mlp_layers_rejects_other_networks(net, match):
    with pytest.raises(ValueError, match=match):
        mlp_layers(net)


# -- measured counts, counted by hand --------------------------------------------------------
def _toy_counter(timesteps: int = 2) -> StepCounts:
    # input (3) -> Linear(3, 4) -> hidden1 (4) -> Linear(4, 5) -> hidden2 (5) -> Linear(5, 2)
    return StepCounts(["hidden1", "hidden2"], [nn.Linear(4, 5), nn.Linear(5, 2)],
                      nn.Linear(3, 4), timesteps)


def test_step_counts_on_a_hand_counted_toy():
    counter = _toy_counter()
    x = torch.tensor([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0]])  # binary input: spikes, 3 in all
    h1 = [torch.tensor([[1.0, 1, 0, 0], [0, 0, 0, 0]]), torch.tensor([[0.0, 0, 0, 1], [1, 0, 0, 0]])]
    h2 = [torch.tensor([[1.0, 0, 0, 0, 1], [0, 0, 0, 0, 0]]), torch.zeros(2, 5)]
    for step in range(2):
        counter.add_input(step, x)
        counter.add_spikes(step, 0, h1[step])
        counter.add_spikes(step, 1, h2[step])
    counter.n_samples = 2
    # Hand count, both samples, both steps:
    #   input spikes 3 per step x fan-out 4            = 24 accumulates
    #   hidden1 spikes 2 + 2 = 4 x fan-out 5           = 20
    #   hidden2 spikes 2 + 0 = 2 x fan-out 2           = 4      -> 48 in all, 24 per sample
    #   spikes 4 + 2 = 6 (3 per sample); updates (4 + 5) x 2 samples x 2 steps = 36 (18 per sample)
    counts = counter.counts(2)
    assert counts.synaptic_ops == 24.0 and counts.macs == 0.0
    assert counts.spikes == 3.0
    assert counts.spikes_per_layer == {"hidden1": 2.0, "hidden2": 1.0}
    assert counts.neurons_per_layer == {"hidden1": 4, "hidden2": 5}
    assert counts.neuron_updates == 18.0
    assert counts.firing_rate == pytest.approx(6 / 36)
    assert counts.timesteps == 2 and counts.n_samples == 2
    # The first step alone: input 12 + hidden1 2 x 5 + hidden2 2 x 2 = 26 -> 13 per sample.
    first = counter.counts(1)
    assert first.synaptic_ops == 13.0 and first.spikes == 2.0 and first.neuron_updates == 9.0
    assert counter.input_spikes_per_sample(2) == 3.0


def test_real_valued_input_counts_as_macs():
    counter = _toy_counter(timesteps=1)
    counter.add_input(0, torch.tensor([[0.5, 0.0, 1.0]]))  # real values: every connection, 3 x 4
    counter.n_samples = 1
    counts = counter.counts(1)
    assert counts.macs == 12.0 and counts.synaptic_ops == 0.0


def test_step_counts_validates():
    with pytest.raises(ValueError, match="pair up"):
        StepCounts(["a"], [], nn.Linear(1, 1), 1)
    counter = _toy_counter()
    with pytest.raises(ValueError, match="no samples"):
        counter.counts(1)
    counter.n_samples = 1
    with pytest.raises(ValueError, match=r"timesteps must lie in \[1, 2\]"):
        counter.counts(3)


def test_agreement():
    a = torch.tensor([0.0, 1.0, 2.0, 3.0])
    assert agreement(a, a) == (0.0, pytest.approx(1.0))
    mse, corr = agreement(a, 2 * a + 1)
    assert mse == pytest.approx(float(((a + 1) ** 2).mean())) and corr == pytest.approx(1.0)
    assert agreement(a, -a)[1] == pytest.approx(-1.0)
    assert math.isnan(agreement(a, torch.ones(4))[1])
    with pytest.raises(ValueError, match="shapes differ"):
        agreement(a, a[:2])


# -- compatibility module (no TensorFlow needed) ---------------------------------------------
def test_check_versions_fails_clearly_on_other_versions():
    compat.check_versions({"snntoolbox": "0.6.0", "tensorflow": "2.21.0", "tf_keras": "2.21.1"})
    with pytest.raises(RuntimeError, match=r"snntoolbox.*0\.5\.1.*tox -e conversion"):
        compat.check_versions({"snntoolbox": "0.5.1", "tensorflow": "2.21.0", "tf_keras": "2.21.0"})
    with pytest.raises(RuntimeError, match="tf_keras"):
        compat.check_versions({"snntoolbox": "0.6.0", "tensorflow": "2.21.0"})


def test_config_text_logs_nothing_and_refuses_spiketrain_logging(tmp_path):
    text = compat.config_text(workdir=tmp_path, filename_ann="ann", batch_size=8, duration=50,
                              percentile=99.9)
    assert "log_vars = {}" in text and "plot_vars = {}" in text
    assert "batch_size = 8" in text and "duration = 50" in text
    assert "reset = Reset by subtraction" in text and "percentile = 99.9" in text
    with pytest.raises(ValueError, match="spiketrains_n_b_l_t"):
        compat.config_text(workdir=tmp_path, filename_ann="ann", batch_size=8, duration=50,
                           percentile=99.9,
                           extra={"output": {"log_vars": "{'spiketrains_n_b_l_t'}"}})
    with pytest.raises(ValueError, match="percentile"):
        compat.config_text(workdir=tmp_path, filename_ann="a", batch_size=1, duration=1,
                           percentile=0)


def test_fresh_workdir_is_new_and_removed():
    with compat.fresh_workdir() as first, compat.fresh_workdir() as second:
        assert first != second and first.is_dir() and not any(first.iterdir())
    assert not first.exists() and not second.exists()


# -- with the real toolbox (tox -e conversion) -----------------------------------------------
def _hand_net() -> nn.Sequential:
    """2 -> 2 -> 1: hidden = ReLU(0.5·I·z), output = sigmoid(h0 + h1)."""
    net = build_mlp([2, 2, 1], out_activation="sigmoid")
    with torch.no_grad():
        net[0].weight.copy_(0.5 * torch.eye(2))
        net[0].bias.zero_()
        net[2].weight.fill_(1.0)
        net[2].bias.zero_()
    return net


@pytest.mark.conversion
def test_toy_conversion_is_counted_by_hand():
    pytest.importorskip("tensorflow")
    from adapters.conversion import SpikingMLP

    x_norm = torch.tensor([[1.0, 1.0], [1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    snn = SpikingMLP(_hand_net(), x_norm, batch_size=4, percentile=99.9, max_timesteps=10)
    # Hidden activations are 0.5 where z = 1, so the toolbox scales W1 by 1/0.5 -> identity: a unit
    # fed an input spike gets exactly θ = 1 each step and fires every step.
    z = torch.tensor([[1.0, 1.0], [1.0, 0.0]])
    result = snn.simulate(z, 10, readout_at=[5])
    counts = result.counts[10]
    # Per sample over 10 steps: sample 0 fires 2 hidden spikes/step, sample 1 one -> (20 + 10) / 2.
    assert counts.spikes == 15.0
    assert counts.spikes_per_layer == {"hidden1": 15.0}
    # Input: 2 and 1 spikes/step x fan-out 2; hidden: 2 and 1 spikes/step x fan-out 1.
    assert counts.synaptic_ops == ((2 * 2 + 2 * 1) * 10 + (1 * 2 + 1 * 1) * 10) / 2
    assert counts.macs == 0.0
    assert counts.neuron_updates == 20.0 and counts.firing_rate == 0.75
    assert result.counts[5].spikes == 7.5
    # Read-out: sigmoid of the time-averaged current x scale is the ANN's output (logits 1, 0.5).
    expected = torch.sigmoid(torch.tensor([[1.0], [0.5]]))
    torch.testing.assert_close(result.outputs[10], expected, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(result.outputs[5], expected, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(snn.ann_forward(z), expected, rtol=1e-6, atol=1e-6)


@pytest.mark.conversion
def test_compat_patches_apply():
    pytest.importorskip("tensorflow")
    compat.load_toolbox()
    import snntoolbox.conversion.utils as conversion_utils

    assert np.product is np.prod
    value = conversion_utils.get_scale_fac(np.array([0.5, 1.0, 2.0], np.float32), 50.0)
    assert type(value) is float and value == 1.0


@pytest.mark.conversion
def test_tiny_conversion_end_to_end(tmp_path):
    pytest.importorskip("tensorflow")
    gen = _gen(0)
    train = (torch.rand(64, 1, 28, 28, generator=gen) > 0.7).float()
    config = {"epochs": 1, "hidden": 32, "latent": 8, "batch_size": 32, "timesteps": 10,
              "sim_batch_size": 16, "norm_samples": 64, "sweep_samples": 16}
    model = ConversionVAE(config)
    report = model.fit(train, seed=0)
    for t in (10, 25, 50, 100):
        assert report.extra[f"agreement_corr_T{t}"] > 0.95
        assert report.extra[f"spikes_per_sample_T{t}"] > 0
    assert report.extra["agreement_corr_T100"] > 0.99
    samples = model.sample(20, seed=1)  # 20 > sim_batch_size: two batches, one padded
    extra = model.extra_outputs()
    assert extra["ann_samples"].shape == samples.shape == (20, 1, 28, 28)
    assert extra["agreement_corr"] > 0.95 and extra["timesteps"] == 10
    counts = model.op_counts()
    assert counts.timesteps == 10 and counts.n_samples == 20 and counts.macs == 0.0
    assert counts.spikes > 0 and counts.synaptic_ops > 0
    recon = model.reconstruct(train[:5])
    assert recon.shape == (5, 1, 28, 28) and model.op_counts().macs > 0  # the ANN encoder
    model.save(tmp_path / "m.pt")
    restored = ConversionVAE(config)
    restored.load(tmp_path / "m.pt")
    assert torch.equal(restored.sample(20, seed=1), samples)


@pytest.mark.conversion
def test_starting_from_the_trained_ann_twin_gives_the_same_model(tmp_path):
    pytest.importorskip("tensorflow")
    from adapters.ann import AnnVAE

    train = (torch.rand(64, 1, 28, 28, generator=_gen(0)) > 0.7).float()
    config = {"epochs": 1, "hidden": 32, "latent": 8, "batch_size": 32, "timesteps": 10,
              "sim_batch_size": 16, "norm_samples": 64, "sweep_samples": 16}
    scratch = ConversionVAE(config)
    scratch.fit(train, seed=3)
    name, ann_config = scratch.trained_twin()
    assert name == "ann-vae" and ann_config == dataclasses.asdict(scratch._ann_config())
    ann = AnnVAE(ann_config)
    ann_report = ann.fit(train, seed=3)
    ann.save(tmp_path / "ann.pt")

    twin = ConversionVAE(config)
    twin.start_from(tmp_path / "ann.pt", {**ann_report.to_dict(), "train_seconds": 123.0},
                    "ann-vae__mnist__seed3")
    report = twin.fit(train, seed=3)
    assert report.extra["twin_train_seconds"] == 123.0 and report.train_seconds >= 123.0
    assert report.history == ann_report.history and report.steps == ann_report.steps
    assert torch.equal(twin.sample(20, seed=1), scratch.sample(20, seed=1))
    assert torch.equal(twin.extra_outputs()["ann_samples"], ann.sample(20, seed=1))
