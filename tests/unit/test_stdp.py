"""STDP backend: pieces on synthetic tensors, hand-counted ops on a toy network, config errors."""

from __future__ import annotations

import sys

import pytest
import torch

spyker = pytest.importorskip("spyker")

import adapters  # noqa: E402
from adapters.opcount import OpCounter  # noqa: E402
from adapters.stdp import (  # noqa: E402
    StdpAE,
    fit_bernoulli_mixture,
    fit_linear_decoder,
    spike_events,
    stdp_convergence,
)

TINY = {"timesteps": 5, "channels": (4,), "kernels": (3,), "thresholds": (3.0,), "pools": (4,),
        "wta_k": (2,), "wta_radius": (1,), "stdp_images": (32,), "stdp_batch": 8,
        "n_encode": 48, "n_components": 3, "em_iters": 5}
TWO_LAYERS = {**TINY, "channels": (4, 6), "kernels": (3, 3), "thresholds": (3.0, 2.0),
              "pools": (2, 2), "wta_k": (2, 2), "wta_radius": (1, 1), "stdp_images": (32, 32)}


def _images(n: int = 48, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 1, 28, 28, generator=gen) * 0.1
    pos = torch.randint(3, 19, (n, 2), generator=gen)
    for i, (r, c) in enumerate(pos.tolist()):
        x[i, 0, r:r + 6, c:c + 3] = 0.9
    return x


@pytest.fixture(scope="module")
def fitted() -> StdpAE:
    model = StdpAE(TWO_LAYERS)
    model.fit(_images(), seed=0)
    return model


def test_shapes_ranges_dtypes_and_binary_codes(fitted):
    x = _images(10, seed=1)
    recon = fitted.reconstruct(x)
    assert recon.shape == (10, 1, 28, 28) and recon.dtype == torch.float32
    assert 0.0 <= float(recon.min()) and float(recon.max()) <= 1.0
    codes = fitted.encode(x)
    assert codes.shape == (10, fitted.code_dim) and fitted.code_dim == 6 * 7 * 7
    assert bool(((codes == 0) | (codes == 1)).all())
    samples = fitted.sample(7, seed=0)
    assert samples.shape == (7, 1, 28, 28) and samples.dtype == torch.float32
    assert 0.0 <= float(samples.min()) and float(samples.max()) <= 1.0
    filters = fitted.filters()
    assert filters.shape == (4, 2, 3, 3) and 0.0 <= float(filters.min()) <= float(filters.max()) <= 1


def test_fit_report_has_convergence_and_prior_fit():
    report = StdpAE(TWO_LAYERS).fit(_images(), seed=0)
    for key in ("stdp_convergence_l1", "stdp_convergence_l2", "code_sparsity",
                "em_loglik_per_sample", "decoder_train_mse"):
        assert key in report.extra
    assert 0.0 <= report.extra["stdp_convergence_l1"] <= 0.25
    em = report.history["em_loglik"]
    assert all(b >= a - 1e-6 for a, b in zip(em, em[1:], strict=False)), "EM never decreases"


def test_determinism():
    a, b = StdpAE(TINY), StdpAE(TINY)
    a.fit(_images(), seed=5)
    b.fit(_images(), seed=5)
    assert torch.equal(a.filters(), b.filters())
    assert torch.equal(a.sample(9, seed=2), b.sample(9, seed=2))
    assert not torch.equal(a.sample(9, seed=2), a.sample(9, seed=3))
    assert torch.equal(a.reconstruct(_images(4)), b.reconstruct(_images(4)))


def test_stdp_convergence_measure():
    assert stdp_convergence(torch.tensor([0.0, 1.0, 1.0, 0.0])) == 0.0
    assert stdp_convergence(torch.full((10,), 0.5)) == pytest.approx(0.25)


def test_spike_events_from_cumulative():
    cum = torch.tensor([[[0], [1], [1]], [[0], [0], [1]]], dtype=torch.uint8)  # (N=2, T=3, 1)
    ev = spike_events(cum)
    assert ev.shape == (3, 2, 1)
    assert ev[:, 0, 0].tolist() == [0, 1, 0] and ev[:, 1, 0].tolist() == [0, 0, 1]


def test_em_recovers_two_bernoulli_components():
    gen = torch.Generator().manual_seed(0)
    d = 20
    mu = torch.stack([torch.cat([torch.full((10,), 0.9), torch.full((10,), 0.1)]),
                      torch.cat([torch.full((10,), 0.15), torch.full((10,), 0.8)])])
    comp = (torch.rand(3000, generator=gen) < 0.3).long()
    z = torch.bernoulli(mu[comp], generator=gen)
    log_pi, mu_hat, history = fit_bernoulli_mixture(z, 2, iters=100, generator=gen)
    assert mu_hat.shape == (2, d) and log_pi.shape == (2,)
    order = mu_hat[:, 0].argsort(descending=True)  # component 0 has the high first half
    assert torch.allclose(mu_hat[order], mu, atol=0.05)
    assert torch.allclose(log_pi[order].exp(), torch.tensor([0.7, 0.3]), atol=0.03)
    assert history[-1] >= history[0]


def test_em_rejects_bad_input():
    gen = torch.Generator().manual_seed(0)
    with pytest.raises(ValueError, match="n_components"):
        fit_bernoulli_mixture(torch.ones(4, 3), 0, iters=2, generator=gen)
    with pytest.raises(ValueError, match="codes"):
        fit_bernoulli_mixture(torch.ones(4), 2, iters=2, generator=gen)


@pytest.mark.parametrize("method, atol", [("ridge", 1e-3), ("delta", 0.05)])
def test_local_decoder_fits_a_linear_map(method, atol):
    gen = torch.Generator().manual_seed(1)
    codes = torch.bernoulli(torch.full((600, 12), 0.3), generator=gen)
    w_true = torch.randn(12, 5, generator=gen) * 0.3
    b_true = torch.rand(5, generator=gen)
    y = b_true + codes @ w_true
    w, b = fit_linear_decoder(codes, y, method=method, ridge=1e-6, lr=0.5, epochs=200,
                              batch_size=50, generator=gen)
    assert torch.allclose(w, w_true, atol=atol) and torch.allclose(b, b_true, atol=atol)
    with pytest.raises(ValueError, match=r"unknown decoder method 'svd'.*ridge"):
        fit_linear_decoder(codes, y, method="svd")


def test_hand_counted_layer_ops():
    """Three input spikes at a corner, an edge and the interior of a 3x3, 2-feature layer."""
    model = StdpAE({**TINY, "channels": (2,), "thresholds": (0.5,), "pools": (28,)})
    model.features.set_kernel(0, torch.ones(2, 2, 3, 3))
    spikes = torch.zeros(1, 3, 2, 28, 28, dtype=torch.uint8)  # cumulative, (N, T, C, H, W)
    spikes[0, 0:, 0, 0, 0] = 1      # corner: reaches 2x2 positions, fires at t=0
    spikes[0, 1:, 1, 0, 10] = 1     # edge: 2x3 positions, fires at t=1
    spikes[0, 2:, 0, 10, 10] = 1    # interior: 3x3 positions, fires at t=2
    counter = OpCounter()
    pooled = model.features.layer(0, spikes, counter)
    assert counter.synaptic_ops == (4 + 6 + 9) * 2          # spikes x real fan-out x 2 maps
    # Every reached position fires once (weights 1 >= threshold 0.5); inhibition keeps one of
    # the two maps per position: 4 + 6 + 9 distinct positions.
    assert counter.spikes["conv1"] == 4 + 6 + 9
    assert counter.neuron_updates["conv1"] == 3 * 2 * 28 * 28
    assert counter.neurons["conv1"] == 2 * 28 * 28
    assert pooled.shape == (1, 3, 2, 1, 1)


def test_hand_counted_reconstruct_and_sample_ops():
    model = StdpAE({**TINY, "channels": (2,), "pools": (4,)})
    model.fit(_images(), seed=0)
    x = _images(3, seed=4)
    model.reconstruct(x)
    counts = model.op_counts()
    # DoG: 2 maps of a 7x7 kernel with zero padding 3 on 28x28: per axis 28*7 - 2*(3+2+1) taps.
    assert counts.macs == 2 * (28 * 7 - 12) ** 2
    t = TINY["timesteps"]
    assert counts.neuron_updates == t * (2 * 784 + 2 * 784)
    assert counts.timesteps == t and counts.n_samples == 3
    codes = model.encode(x)
    dec_ops = float(codes.sum()) * 784 / 3
    assert counts.synaptic_ops > dec_ops  # the encoder's accumulates come on top
    model.sample(5, seed=1)
    counts = model.op_counts()
    assert counts.timesteps == 1 and counts.macs == 0 and set(counts.spikes_per_layer) == {"prior"}
    assert counts.synaptic_ops == counts.spikes * 784  # each prior spike reaches 784 pixels
    assert counts.neuron_updates == model.code_dim


@pytest.mark.parametrize("bad, match", [
    ({"channels": (1, 2, 3)}, "channels"),
    ({"thresholds": (1.0, 2.0)}, "thresholds"),
    ({"kernels": (4,)}, "kernels"),
    ({"decoder": "svd"}, r"decoder.*ridge"),
    ({"stdp_lr": (0.004, 0.003)}, "stdp_lr"),
    ({"timesteps": 1}, "timesteps"),
    ({"pools": (29,)}, "pools"),
    ({"n_components": 0}, "n_components must be an int >= 1, got 0"),
    ({"dog_sigmas": (2.0, 2.0)}, r"dog_sigmas must be two different positive numbers"),
    ({"wta_radius": (-1,)}, r"wta_radius must be a tuple of ints >= 0, got \(-1,\)"),
    ({"n_encode": True}, r"n_encode must be an int >= 0, got True \(a bool\)"),
])
def test_config_errors(bad, match):
    with pytest.raises(ValueError, match=match):
        StdpAE({**TINY, **bad})


def test_unknown_config_key():
    with pytest.raises(ValueError, match=r"unknown config key\(s\) \['epochs'\]"):
        adapters.create("stdp-ae", {"epochs": 2})


def test_save_load_round_trip(fitted, tmp_path):
    path = tmp_path / "stdp.pt"
    fitted.save(path)
    blob = torch.load(path, weights_only=True)
    assert isinstance(blob["kernels"][0], torch.Tensor)
    restored = StdpAE(TWO_LAYERS)
    restored.load(path)
    assert torch.equal(restored.filters(), fitted.filters())
    assert torch.equal(restored.sample(6, seed=1), fitted.sample(6, seed=1))
    x = _images(5, seed=2)
    assert torch.equal(restored.reconstruct(x), fitted.reconstruct(x))
    with pytest.raises(ValueError, match="saved with config"):
        StdpAE(TINY).load(path)


def test_unfitted_model_refuses(tmp_path):
    model = StdpAE(TINY)
    with pytest.raises(RuntimeError, match="fit"):
        model.sample(2, seed=0)
    with pytest.raises(RuntimeError, match="op_counts"):
        model.op_counts()


def test_learned_filters_are_on_minus_off_in_minus_one_to_one(fitted):
    filters = fitted.learned_filters()
    assert filters.shape == (4, 3, 3) and filters.dtype == torch.float32
    assert -1.0 <= float(filters.min()) <= float(filters.max()) <= 1.0
    w = fitted.filters()
    assert torch.equal(filters, w[:, 0] - w[:, 1])
    assert float(filters.abs().sum()) > 0


def test_missing_spyker_gives_install_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "spyker", None)
    monkeypatch.delitem(sys.modules, "adapters.stdp", raising=False)
    monkeypatch.delitem(sys.modules, "adapters.stdp_features", raising=False)
    with pytest.raises(ImportError, match=r"spyker.*pip install -e '\.\[stdp\]'"):
        adapters.get_adapter_class("stdp-ae")
