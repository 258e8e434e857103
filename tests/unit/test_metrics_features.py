"""The feature network: deterministic training, the cache, the accuracy gate, class coverage."""

from __future__ import annotations

import pytest
import torch

from benchmarks.data import Split
from benchmarks.metrics import features as fmod
from benchmarks.metrics.features import (
    FEATURE_NET_VERSION,
    FeatureNet,
    FeatureNetError,
    classes_covered,
    get_feature_net,
    train_feature_net,
)


def _synthetic(n: int, seed: int, *, shuffle_labels: bool = False) -> Split:
    """Ten trivially separable classes: class k is a bright 7x7 square at its own place."""
    gen = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 10
    x = torch.rand(n, 1, 28, 28, generator=gen) * 0.2
    for i, k in enumerate(y.tolist()):
        r, c = 2 + 8 * (k // 3), 2 + 8 * (k % 3)
        x[i, 0, r:r + 7, c:c + 7] = 0.9
    if shuffle_labels:
        y = y[torch.randperm(n, generator=gen)]
    return Split(images=x, labels=y)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv(fmod.ENV_CACHE, str(tmp_path))
    return tmp_path / "featurenets"


def test_features_and_logits_shapes():
    net = FeatureNet().eval()
    x = torch.rand(5, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    assert net.features(x).shape == (5, 128) and net(x).shape == (5, 10)
    assert bool((net.features(x) >= 0).all())


def test_training_is_deterministic_and_ignores_the_callers_cpu_settings(monkeypatch):
    """Same weights again, and with the caller on 2 threads and MKL/ATen told to use AVX2 only
    (what another CPU would pick): the child process trains on portable kernels."""
    train, test = _synthetic(256, 0), _synthetic(100, 1)
    net1, acc1, _ = train_feature_net("mnist", train, test, epochs=1, progress=False)
    net2, acc2, _ = train_feature_net("mnist", train, test, epochs=1, progress=False)
    before = torch.get_num_threads()
    monkeypatch.setenv("MKL_ENABLE_INSTRUCTIONS", "AVX2")
    monkeypatch.setenv("ATEN_CPU_CAPABILITY", "avx2")
    try:
        torch.set_num_threads(2)
        net3, acc3, _ = train_feature_net("mnist", train, test, epochs=1, progress=False)
        assert torch.get_num_threads() == 2  # the caller's count is untouched
    finally:
        torch.set_num_threads(before)
    assert acc1 == acc2 == acc3
    for other in (net2, net3):
        for (k, a), b in zip(net1.state_dict().items(), other.state_dict().values(), strict=True):
            assert torch.equal(a, b), k


def test_training_here_matches_itself_and_the_worker_refuses_default_kernels(tmp_path,
                                                                             monkeypatch):
    from benchmarks.metrics import featurenet_worker

    train, test = _synthetic(256, 0), _synthetic(100, 1)
    net1, acc1, _ = fmod.train_here("mnist", train, test, epochs=1, progress=False)
    net2, acc2, _ = fmod.train_here("mnist", train, test, epochs=1, progress=False)
    assert acc1 == acc2
    for (k, a), b in zip(net1.state_dict().items(), net2.state_dict().values(), strict=True):
        assert torch.equal(a, b), k
    monkeypatch.delenv("MKL_CBWR", raising=False)
    assert featurenet_worker.main([str(tmp_path / "in.pt"), str(tmp_path / "out.pt")]) == 2
    assert not (tmp_path / "out.pt").exists()
    assert featurenet_worker.main([]) == 2


def test_second_call_loads_from_the_cache(cache, monkeypatch):
    train, test = _synthetic(512, 0), _synthetic(200, 1)
    net, info = get_feature_net("mnist", train=train, test=test, epochs=1, progress=False)
    files = list(cache.glob("*.pt"))
    assert len(files) == 1 and info.data_checksum in files[0].name
    assert info.test_accuracy >= 0.99 and not net.training
    assert info.name == f"classifier-{FEATURE_NET_VERSION}[mnist]" and info.feature_dim == 128

    def no_training(*args, **kwargs):
        raise AssertionError("should have been loaded from the cache")

    monkeypatch.setattr(fmod, "train_feature_net", no_training)
    net2, info2 = get_feature_net("mnist", train=train, test=test, epochs=1, progress=False)
    assert info2 == info
    for a, b in zip(net.state_dict().values(), net2.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    # Other data -> other checksum -> not served from this entry.
    with pytest.raises(AssertionError, match="cache"):
        get_feature_net("mnist", train=_synthetic(512, 2), test=test, epochs=1, progress=False)


def test_a_weak_network_raises_and_is_not_cached(cache):
    train, test = _synthetic(256, 0, shuffle_labels=True), _synthetic(100, 1, shuffle_labels=True)
    with pytest.raises(FeatureNetError, match="target 0.9900"):
        get_feature_net("mnist", train=train, test=test, epochs=1, progress=False)
    assert not cache.exists() or not list(cache.glob("*.pt"))


def test_bad_arguments_are_rejected(cache):
    split = _synthetic(20, 0)
    with pytest.raises(ValueError, match="no accuracy target"):
        get_feature_net("cifar", train=split, test=split)
    with pytest.raises(ValueError, match="lowercase name"):
        get_feature_net("../evil", train=split, test=split, min_accuracy=0.5)
    with pytest.raises(ValueError, match="epochs"):
        get_feature_net("mnist", train=split, test=split, epochs=0)
    bad = Split(images=split.images * 2, labels=split.labels)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        get_feature_net("mnist", train=bad, test=split)
    with pytest.raises(TypeError, match="int64"):
        get_feature_net("mnist", train=Split(split.images, split.labels.int()), test=split)


def test_classes_covered_counts_predicted_classes():
    train = _synthetic(512, 0)
    net, acc, _ = fmod.train_here("mnist", train, _synthetic(100, 1), epochs=1, progress=False)
    assert acc == 1.0
    all_classes = _synthetic(100, 3).images
    assert classes_covered(all_classes, net) == 10
    three = _synthetic(100, 4)
    only = three.images[three.labels < 3]
    assert classes_covered(only, net) == 3
    # One image of class 9 among 99 of class 0: 1% counts at min_fraction=0.01, not at 0.05.
    mix = torch.cat([_synthetic(990, 5).images[::10][:99], all_classes[9:10]])
    assert classes_covered(mix, net, min_fraction=0.01) == 2
    assert classes_covered(mix, net, min_fraction=0.05) == 1
    with pytest.raises(ValueError, match="min_fraction"):
        classes_covered(all_classes, net, min_fraction=0.0)
    with pytest.raises(ValueError, match=r"\(N, 1, 28, 28\)"):
        classes_covered(all_classes[:, :, :20], net)
