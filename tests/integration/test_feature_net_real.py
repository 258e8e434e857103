"""Real feature networks: trained from scratch they reach their accuracy targets (slow)."""

from __future__ import annotations

import pytest
import torch

from benchmarks import data
from benchmarks.metrics import features as fmod
from benchmarks.metrics import keys as K
from benchmarks.metrics.features import MIN_ACCURACY, accuracy, classes_covered, get_feature_net
from benchmarks.metrics.fidelity import anchors

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("name", data.DATASETS)
def test_fresh_feature_net_reaches_its_target(name, tmp_path, monkeypatch):
    train, test = data.load(name, "train"), data.load(name, "test")
    # Train into an empty cache (after the data is loaded from the real one).
    monkeypatch.setenv(fmod.ENV_CACHE, str(tmp_path))
    net, info = get_feature_net(name, train=train, test=test, progress=False)
    assert info.test_accuracy >= MIN_ACCURACY[name]
    assert accuracy(net, test.images, test.labels) == pytest.approx(info.test_accuracy, abs=1e-6)
    assert (tmp_path / "featurenets").is_dir()
    assert len(list((tmp_path / "featurenets").glob(f"{name}__*.pt"))) == 1
    # A classifier this good sees all ten classes in the test split, and the scale anchors are
    # ordered: real train images are far closer to the test split than Bernoulli noise.
    assert classes_covered(test.images, net) == 10
    a = anchors(train.images, test.images, feature_net=net, info=info, n=2000, seed=0)
    assert 0 < a[K.FID_DATA_FLOOR] < a[K.FID_NOISE_CEILING] / 20
    # Loading from the cache gives the same network.
    net2, info2 = get_feature_net(name, train=train, test=test, progress=False)
    assert info2 == info
    x = test.images[:64]
    assert torch.equal(net.features(x), net2.features(x))
