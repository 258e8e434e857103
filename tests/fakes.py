"""Stand-ins shared by the run-path tests: a data-set context of synthetic images, tiny suite
files, a sequential run over them, and an adapter that starts from a trained twin.

Importable as ``tests.fakes`` from worker processes too (spawned ``--jobs`` workers and Ray
workers have the repository root on their path), so executors can unpickle it there.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch

from adapters.ann import AnnVAE
from adapters.base import FitReport
from benchmarks.metrics import keys as K


def blobs(n: int, seed: int) -> torch.Tensor:
    """``n`` images of a bright 6x6 square at a random place on a dim noisy background."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 1, 28, 28, generator=gen) * 0.1
    for i, (r, c) in enumerate(torch.randint(4, 18, (n, 2), generator=gen).tolist()):
        x[i, 0, r:r + 6, c:c + 6] = 0.9
    return x


@dataclass
class FakeContext:
    """What DatasetContext holds, built from synthetic images and an untrained feature net."""

    name: str
    suite: object

    def __post_init__(self):
        from adapters.seeding import init_parameters_
        from benchmarks.metrics.aefeatures import AEInfo, AENet
        from benchmarks.metrics.features import FeatureNet, FeatureNetInfo
        from benchmarks.metrics.fidelity import reference_features

        self.train = blobs(128, 0)
        self.test = blobs(64, 1)
        self.eval_ref = self.test[: self.suite.n_eval]
        self.recon_ref = self.test[: self.suite.n_recon]
        self.checksum = "synthetic"
        gen = torch.Generator().manual_seed(0)
        self.feature_net = FeatureNet()
        with torch.no_grad():
            for p in self.feature_net.parameters():
                p.copy_(torch.randn(p.shape, generator=gen) * 0.1)
        self.feature_net.eval()
        self.feature_info = FeatureNetInfo(
            dataset=self.name, version="test", data_checksum="x", test_accuracy=0.5,
            name="untrained[test]", feature_dim=self.feature_net.features(self.test[:2]).shape[1])
        self.reference = reference_features(self.eval_ref, feature_net=self.feature_net,
                                            info=self.feature_info)
        self.ae_net = AENet()
        init_parameters_(self.ae_net, torch.Generator().manual_seed(1))
        self.ae_net.eval()
        self.ae_info = AEInfo(dataset=self.name, version="test", data_checksum="x",
                              test_accuracy=0.5, name="untrained-ae[test]",
                              feature_dim=self.ae_net.feature_dim, recon_mse=0.1)
        self.ae_reference = reference_features(self.eval_ref, feature_net=self.ae_net,
                                               info=self.ae_info)
        self.test_shares = torch.full((10,), 0.1, dtype=torch.float64)
        self.anchors = {K.FID_DATA_FLOOR: 1.0, K.FID_NOISE_CEILING: 100.0}


def run_suite(suite: Any, cells: Sequence[Any], *, results_dir: Path,
              context_factory: Any = FakeContext, force: bool = False,
              **options: Any) -> list[dict[str, Any]]:
    """Run ``cells`` one after another in this process (the default executor), on
    :class:`FakeContext` data unless told otherwise; returns their records."""
    from benchmarks import driver
    from benchmarks.executors.sequential import Sequential

    return driver.run_suite(suite, cells, Sequential(context_factory), results_dir=results_dir,
                            force=force, **options)


#: An ``ann-vae`` entry small enough for :class:`FakeContext` data (seconds to train).
TINY_ANN_VAE = """[[entry]]
adapter = "ann-vae"
config = { epochs = 1, hidden = 32, latent = 8 }
"""

#: An ``ann-gan`` entry small enough for :class:`FakeContext` data.
TINY_ANN_GAN = """[[entry]]
adapter = "ann-gan"
config = { epochs = 1, hidden = 32, noise_dim = 8 }
"""


def tiny_suite(name: str, entries: str, *, seeds: tuple[int, ...] = (0,)) -> str:
    """The text of a suite file over :class:`FakeContext`-sized data (MNIST's name, 128 train
    images, 64 samples, 32 reconstructions, 1 thread) with the given ``[[entry]]`` blocks."""
    return (f'[suite]\nname = "{name}"\ndatasets = ["mnist"]\nseeds = {list(seeds)}\n'
            f"n_train = 128\nn_eval = 64\nn_recon = 32\nthreads = 1\n\n{entries}")


class TwinVAE(AnnVAE):
    """An adapter whose training starts with exactly ann-vae's (as a conversion's does): it
    names ann-vae of its own config as its trained twin and, given one, loads it instead of
    training (registered by the tests as ``twin-vae``: ``tests.fakes:TwinVAE``)."""

    name: ClassVar[str] = "twin-vae"

    def __init__(self, config=None):
        super().__init__(config)
        self.twin = None

    def trained_twin(self):
        return "ann-vae", dataclasses.asdict(self.config)

    def start_from(self, path, fit, source):
        self.twin = (path, fit, source)

    def fit(self, train, *, seed, progress=None):
        if self.twin is None:
            return super().fit(train, seed=seed, progress=progress)
        path, fit, source = self.twin
        self.load(path)
        return FitReport(epochs=fit["epochs"], steps=fit["steps"], train_seconds=0.0,
                         extra={"twin_train_seconds": fit["train_seconds"]})


#: ann-vae, its twin, and a twin-vae of another config (which has no twin to start from).
TWIN_SUITE = tiny_suite("twin", f"""{TINY_ANN_VAE}
[[entry]]
adapter = "twin-vae"
config = {{ epochs = 1, hidden = 32, latent = 8 }}

[[entry]]
label = "twin-vae-other"
adapter = "twin-vae"
config = {{ epochs = 1, hidden = 32, latent = 4 }}
""")
