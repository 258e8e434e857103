"""The second feature space (autoencoder codes) and the coverage metrics, on tiny synthetic data."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch

from adapters.io import checksum_path
from benchmarks.metrics import aefeatures as ae
from benchmarks.metrics import features as clf
from benchmarks.metrics.features import class_shares, coverage
from tests.fakes import blobs


def _split(n: int, seed: int) -> SimpleNamespace:
    return SimpleNamespace(images=blobs(n, seed), labels=torch.arange(n) % 10)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv(clf.ENV_CACHE, str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_training_is_deterministic_and_measures_its_quality(monkeypatch):
    monkeypatch.setattr(ae, "_PROBE_EPOCHS", 2)
    train, test = _split(192, 0), _split(64, 1)
    first, quality, _ = ae.train_here("synthetic", train, test, epochs=1, progress=False)
    again, quality_again, _ = ae.train_here("synthetic", train, test, epochs=1, progress=False)
    other, _, _ = ae.train_here("synthetic", train, test, epochs=1, seed=7, progress=False)
    assert clf.weights_digest(first) == clf.weights_digest(again)
    assert clf.weights_digest(first) != clf.weights_digest(other)
    assert quality == quality_again
    assert 0.0 <= quality["probe_accuracy"] <= 1.0 and 0.0 < quality["recon_mse"] < 1.0
    codes = first.features(test.images)
    assert codes.shape == (64, ae.AE_DIM) and codes.dtype == torch.float32


def test_cached_with_its_hash_loaded_without_training_and_rebuilt_when_corrupt(cache,
                                                                                monkeypatch):
    train, test = _split(64, 2), _split(32, 3)
    trained = []

    def fake_train(dataset, train, test, epochs, progress):
        net = ae.AENet()
        torch.nn.init.constant_(net.code.bias, float(len(trained)))
        trained.append(dataset)
        return net.eval(), {"recon_mse": 0.05, "probe_accuracy": 0.95}, 1.0

    monkeypatch.setattr(ae, "_train_portable", fake_train)
    net, info = ae.get_ae_net("mnist", train=train, test=test)
    path = ae.cache_path("mnist", clf.data_checksum(train, test))
    assert trained == ["mnist"] and path.is_file() and checksum_path(path).is_file()
    assert info.weights_sha256 == clf.weights_digest(net) and info.test_accuracy == 0.95
    assert info.recon_mse == 0.05 and info.name == f"autoencoder-{ae.AE_VERSION}[mnist]"

    _, again = ae.get_ae_net("mnist", train=train, test=test)
    assert trained == ["mnist"] and again.weights_sha256 == info.weights_sha256  # from the cache

    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0x01  # one flipped bit
    path.write_bytes(bytes(raw))
    _, rebuilt = ae.get_ae_net("mnist", train=train, test=test)
    assert trained == ["mnist", "mnist"]  # moved aside and trained again
    assert rebuilt.weights_sha256 != info.weights_sha256  # the fake trains other weights now
    assert len(list(path.parent.glob(path.name + ".corrupt-*"))) == 1  # the bad file, kept aside


def test_a_space_below_its_probe_target_is_not_cached(cache, monkeypatch):
    train, test = _split(64, 4), _split(32, 5)
    monkeypatch.setattr(ae, "_train_portable", lambda *a: (
        ae.AENet().eval(), {"recon_mse": 0.2, "probe_accuracy": 0.3}, 1.0))
    with pytest.raises(clf.FeatureNetError, match="probe accuracy 0.3000 < the target 0.9000"):
        ae.get_ae_net("mnist", train=train, test=test)
    assert not ae.cache_path("mnist", clf.data_checksum(train, test)).exists()
    with pytest.raises(ValueError, match="no probe target"):
        ae.get_ae_net("emnist", train=train, test=test)


def test_the_portable_worker_trains_the_autoencoder(cache, monkeypatch):
    train, test = _split(64, 6), _split(32, 7)
    blob = clf.train_in_worker("autoencoder", "synthetic", train, test, epochs=1, seed=3,
                               progress=False)
    assert set(blob["quality"]) == {"recon_mse", "probe_accuracy"} and blob["seconds"] > 0
    with pytest.raises(clf.FeatureNetError, match="exited with code 2"):
        clf.train_in_worker("gan", "synthetic", train, test, epochs=1, seed=3, progress=False)


@pytest.mark.parametrize("shares, classes, top, kl", [
    ([0.1] * 10, 10, 0.1, 0.0),  # uniform: every class, no divergence
    ([1.0] + [0.0] * 9, 1, 1.0, math.log(10)),  # collapse onto one class
    ([0.5, 0.5] + [0.0] * 8, 2, 0.5, math.log(5)),
    ([0.05] * 2 + [0.9 / 8] * 8, 10, 0.1125, None),  # 5 % exactly counts
    ([0.04] * 5 + [0.8 / 5] * 5, 5, 0.16, None),  # a collapse the 1 % count would not show
])
def test_coverage_of_hand_made_histograms(shares, classes, top, kl):
    out = coverage(torch.tensor(shares, dtype=torch.float64),
                   torch.full((10,), 0.1, dtype=torch.float64))
    assert out["classes"] == classes and out["top_share"] == pytest.approx(top)
    if kl is not None:
        assert out["kl"] == pytest.approx(kl, abs=1e-12)
    assert out["kl"] >= 0


def test_class_shares_and_coverage_reject_bad_input():
    shares = class_shares(torch.tensor([0, 0, 1, 9]), 10)
    assert shares.tolist() == [0.5, 0.25] + [0.0] * 7 + [0.25]
    uniform = torch.full((10,), 0.1)
    with pytest.raises(ValueError, match="sum to 1"):
        coverage(torch.full((10,), 0.2), uniform)
    with pytest.raises(ValueError, match="present in the reference"):
        coverage(uniform, torch.tensor([0.0] + [1 / 9] * 9))
    with pytest.raises(ValueError, match="one size"):
        coverage(uniform, torch.full((5,), 0.2))
    with pytest.raises(ValueError, match="non-empty"):
        class_shares(torch.tensor([], dtype=torch.int64), 10)
