"""FID/KID/PR through torch-fidelity with an untrained FeatureNet on synthetic images."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch
from scipy import linalg

from adapters.seeding import init_parameters_
from benchmarks.metrics import fidelity
from benchmarks.metrics import keys as K
from benchmarks.metrics.features import FeatureNet, FeatureNetInfo
from benchmarks.metrics.fidelity import anchors, image_quality, inception_fid


def _net() -> tuple[FeatureNet, FeatureNetInfo]:
    net = FeatureNet()
    init_parameters_(net, torch.Generator().manual_seed(0))
    net.eval()
    info = FeatureNetInfo(dataset="synthetic", version="test", data_checksum="none",
                          test_accuracy=0.0, name="untrained[synthetic]", feature_dim=128)
    return net, info


def _blobs(n: int, seed: int, brightness: float = 0.9) -> torch.Tensor:
    """Dim background with one bright 6x6 square per image at a random place."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 1, 28, 28, generator=gen) * 0.1
    for i, (r, c) in enumerate(torch.randint(2, 20, (n, 2), generator=gen).tolist()):
        x[i, 0, r:r + 6, c:c + 6] = brightness
    return x


@pytest.fixture(scope="module")
def net_info():
    return _net()


def _reference_fid(a: torch.Tensor, b: torch.Tensor, net: FeatureNet) -> float:
    """FID computed here from scratch (scipy sqrtm) on the same uint8-quantised inputs."""
    with torch.no_grad():
        fa, fb = (net.features((x * 255).round() / 255).double().numpy() for x in (a, b))
    mu_a, mu_b = fa.mean(0), fb.mean(0)
    s_a, s_b = np.cov(fa, rowvar=False), np.cov(fb, rowvar=False)
    covmean = linalg.sqrtm(s_a @ s_b).real
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(s_a + s_b - 2 * covmean))


def test_identical_sets_score_perfectly(net_info):
    net, info = net_info
    x = _blobs(200, 0)
    out = image_quality(x, x, feature_net=net, info=info, kid_subset_size=100)
    assert set(out) == {K.FID, K.KID, K.KID_STD, K.PRECISION, K.RECALL}
    assert abs(out[K.FID]) < 1e-6
    assert abs(out[K.KID]) < 1e-4
    assert out[K.PRECISION] == 1.0 and out[K.RECALL] == 1.0


@pytest.mark.filterwarnings("ignore:Matrix is singular")
def test_fid_matches_an_independent_computation_and_grows_with_the_shift(net_info):
    net, info = net_info
    ref = _blobs(300, 1)
    near = _blobs(300, 2)            # same distribution, other draw
    far = _blobs(300, 3, brightness=0.4)
    q_near = image_quality(near, ref, feature_net=net, info=info, kid_subset_size=100)
    q_far = image_quality(far, ref, feature_net=net, info=info, kid_subset_size=100)
    assert q_near[K.FID] == pytest.approx(_reference_fid(near, ref, net), rel=1e-3)
    assert q_far[K.FID] == pytest.approx(_reference_fid(far, ref, net), rel=1e-3)
    assert 0 < q_near[K.FID] < q_far[K.FID]
    assert q_near[K.KID] < q_far[K.KID] and q_far[K.KID] > 0
    for q in (q_near, q_far):
        assert 0.0 <= q[K.PRECISION] <= 1.0 and 0.0 <= q[K.RECALL] <= 1.0
        assert q[K.KID_STD] >= 0
    # A different distribution lies mostly outside the reference manifold.
    assert q_far[K.PRECISION] < q_near[K.PRECISION]


def test_deterministic_quiet_and_leaves_the_callers_net_alone(net_info, capsys):
    net, info = net_info
    net.train()
    a, b = _blobs(120, 4), _blobs(150, 5)
    first = image_quality(a, b, feature_net=net, info=info, kid_subset_size=50)
    second = image_quality(a, b, feature_net=net, info=info, kid_subset_size=50)
    assert first == second
    assert capsys.readouterr().out == ""  # stdout is data
    assert net.training and all(p.requires_grad for p in net.parameters())
    net.eval()


def _calculate_metrics(gen, ref, net, **options):
    """torch-fidelity's own ``calculate_metrics`` over the same network, registered here as an
    extractor (what the suite called before it reused the reference side)."""
    import torch_fidelity
    from torch_fidelity.feature_extractor_base import FeatureExtractorBase
    from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY

    class Extractor(FeatureExtractorBase):
        def __init__(self, name, features_list, **kwargs):
            super().__init__(name, features_list)

        @staticmethod
        def get_provided_features_list():
            return ("features",)

        @staticmethod
        def get_default_feature_layer_for_metric(metric):
            return "features"

        @staticmethod
        def can_be_compiled():
            return False

        def forward(self, x):
            return (net.features(x.float() / 255.0),)

    name = f"test-featurenet-{id(net)}"
    if name not in FEATURE_EXTRACTORS_REGISTRY:
        torch_fidelity.register_feature_extractor(name, Extractor)
    return torch_fidelity.calculate_metrics(
        input1=fidelity._UInt8Images(gen), input2=fidelity._UInt8Images(ref), fid=True, kid=True,
        prc=True, feature_extractor=name, cuda=False, verbose=False, cache=False,
        save_cpu_ram=True, batch_size=64, prc_batch_size=1000, prc_neighborhood=3, **options)


def test_reused_reference_gives_torch_fidelitys_numbers_bit_for_bit(net_info):
    net, info = net_info
    gen, ref = _blobs(150, 12), _blobs(130, 13, brightness=0.7)
    theirs = _calculate_metrics(gen, ref, net, kid_subsets=20, kid_subset_size=100, rng_seed=2020)
    reference = fidelity.reference_features(ref, feature_net=net, info=info, batch_size=64)
    for reference_arg in (ref, reference):  # computed here, and reused
        ours = image_quality(gen, reference_arg, feature_net=net, info=info, kid_subsets=20,
                             kid_subset_size=100, batch_size=64)
        assert ours == {K.FID: theirs["frechet_inception_distance"],
                        K.KID: theirs["kernel_inception_distance_mean"],
                        K.KID_STD: theirs["kernel_inception_distance_std"],
                        K.PRECISION: theirs["precision"], K.RECALL: theirs["recall"]}
    assert fidelity.fid(gen, reference, feature_net=net, info=info, batch_size=64) == \
        theirs["frechet_inception_distance"]


def test_one_pass_gives_features_and_the_class_predictions(net_info):
    from benchmarks.metrics.features import class_coverage, classes_covered

    net, info = net_info
    x = (_blobs(90, 14) * 255).round() / 255  # already on the uint8 grid: the passes agree
    seen = fidelity.extract(x, net, batch_size=32)
    assert seen.features.shape == (90, info.feature_dim) and seen.logits.shape == (90, 10)
    with torch.no_grad():
        assert torch.equal(seen.predictions, net(x).argmax(1))
    assert class_coverage(seen.predictions, 10) == classes_covered(x, net)
    with pytest.raises(ValueError, match="min_fraction"):
        class_coverage(seen.predictions, 10, min_fraction=0.0)


def test_reference_features_of_another_network_are_refused(net_info):
    net, info = net_info
    reference = fidelity.reference_features(_blobs(20, 15), feature_net=net, info=info)
    other = FeatureNetInfo("s", "t", "c", 0.0, "other[s]", feature_dim=info.feature_dim)
    with pytest.raises(ValueError, match="other"):
        image_quality(_blobs(20, 16), reference, feature_net=net, info=other)


def test_small_sets_clamp_the_kid_subset(net_info):
    net, info = net_info
    out = image_quality(_blobs(40, 6), _blobs(64, 7), feature_net=net, info=info)
    assert np.isfinite(out[K.KID]) and out[K.FID] > 0


def test_pr_max_samples_subsamples_deterministically(net_info):
    net, info = net_info
    a, b = _blobs(200, 8), _blobs(200, 9, brightness=0.6)
    full = image_quality(a, b, feature_net=net, info=info, kid_subset_size=100)
    sub1 = image_quality(a, b, feature_net=net, info=info, kid_subset_size=100,
                         pr_max_samples=50)
    sub2 = image_quality(a, b, feature_net=net, info=info, kid_subset_size=100,
                         pr_max_samples=50)
    assert sub1 == sub2
    assert sub1[K.FID] == full[K.FID]  # only precision/recall are subsampled
    assert all(0.0 <= sub1[k] <= 1.0 for k in (K.PRECISION, K.RECALL))
    # 50 of 200 images: the k-NN radii change, so the numbers do too.
    assert (sub1[K.PRECISION], sub1[K.RECALL]) != (full[K.PRECISION], full[K.RECALL])


@pytest.mark.parametrize("bad, err, match", [
    (torch.rand(10, 1, 28, 27), ValueError, r"\(N, 1, 28, 28\)"),
    (torch.rand(10, 3, 28, 28), ValueError, r"\(N, 1, 28, 28\)"),
    (torch.rand(10, 1, 28, 28) + 0.5, ValueError, r"\[0, 1\]"),
    (-torch.rand(10, 1, 28, 28), ValueError, r"\[0, 1\]"),
    (torch.full((10, 1, 28, 28), float("nan")), ValueError, "NaN"),
    (torch.randint(0, 255, (10, 1, 28, 28), dtype=torch.uint8), TypeError, "floating"),
    (np.zeros((10, 1, 28, 28), dtype=np.float32), TypeError, "torch.Tensor"),
    (torch.rand(3, 1, 28, 28), ValueError, "pr_neighborhood"),
])
def test_bad_images_are_rejected(net_info, bad, err, match):
    net, info = net_info
    with pytest.raises(err, match=match):
        image_quality(bad, _blobs(10, 0), feature_net=net, info=info)


def test_bad_options_are_rejected(net_info):
    net, info = net_info
    x = _blobs(10, 0)
    with pytest.raises(ValueError, match="pr_neighborhood"):
        image_quality(x, x, feature_net=net, info=info, pr_neighborhood=0)
    with pytest.raises(TypeError, match="feature_net"):
        image_quality(x, x, feature_net=torch.nn.Linear(2, 2), info=info)
    wrong = FeatureNetInfo("s", "t", "c", 0.0, "n", feature_dim=64)
    with pytest.raises(ValueError, match="feature_dim"):
        image_quality(x, x, feature_net=net, info=wrong)


def test_anchors_floor_below_ceiling_and_reproducible(net_info):
    net, info = net_info
    train, test = _blobs(300, 10), _blobs(150, 11)
    a = anchors(train, test, feature_net=net, info=info, n=100, seed=0)
    assert set(a) == {K.FID_DATA_FLOOR, K.FID_NOISE_CEILING}
    assert 0 < a[K.FID_DATA_FLOOR] < a[K.FID_NOISE_CEILING]
    assert anchors(train, test, feature_net=net, info=info, n=100, seed=0) == a
    assert anchors(train, test, feature_net=net, info=info, n=100, seed=1) != a
    with pytest.raises(ValueError, match="exceeds"):
        anchors(train, test, feature_net=net, info=info, n=200, seed=0)


def test_inception_fid_skips_with_one_logged_reason(monkeypatch, caplog):
    monkeypatch.delenv(fidelity.ENV_INCEPTION_WEIGHTS, raising=False)
    monkeypatch.setattr(fidelity, "_SKIP_LOGGED", [])
    x = _blobs(10, 0)
    with caplog.at_level(logging.INFO, logger="benchmarks.metrics.fidelity"):
        assert inception_fid(x, x, weights_path=None) is None
        assert inception_fid(x, x, weights_path=None) is None  # once per process, not per cell
    lines = [r.getMessage() for r in caplog.records if r.name == "benchmarks.metrics.fidelity"]
    assert len(lines) == 1 and "Inception FID skipped" in lines[0]
    assert fidelity.ENV_INCEPTION_WEIGHTS in lines[0]


def test_inception_fid_missing_weights_file_is_an_error(tmp_path, monkeypatch):
    x = _blobs(10, 0)
    with pytest.raises(FileNotFoundError, match="nope.pth"):
        inception_fid(x, x, weights_path=tmp_path / "nope.pth")
    monkeypatch.setenv(fidelity.ENV_INCEPTION_WEIGHTS, str(tmp_path / "nope.pth"))
    with pytest.raises(FileNotFoundError, match=fidelity.ENV_INCEPTION_WEIGHTS):
        inception_fid(x, x)


def test_inception_fid_hands_torch_fidelity_3_channel_uint8_and_the_local_weights(
        tmp_path, monkeypatch):
    import torch_fidelity

    weights = tmp_path / "pt_inception.pth"
    weights.write_bytes(b"not really weights")
    seen = {}

    def fake_calculate_metrics(**kwargs):
        seen.update(kwargs)
        return {"frechet_inception_distance": 12.5}

    monkeypatch.setattr(torch_fidelity, "calculate_metrics", fake_calculate_metrics)
    x = _blobs(10, 0)
    assert inception_fid(x, x, weights_path=weights) == 12.5
    assert seen["feature_extractor"] == "inception-v3-compat"
    assert seen["feature_extractor_weights_path"] == str(weights)
    assert seen["fid"] is True and seen["verbose"] is False and seen["cuda"] is False
    item = seen["input1"][0]
    assert item.dtype == torch.uint8 and tuple(item.shape) == (3, 28, 28)
    assert torch.equal(item[0], item[2])
    assert torch.equal(item[0], (x[0, 0] * 255).round().to(torch.uint8))
