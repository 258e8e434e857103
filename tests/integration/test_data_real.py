"""The real MNIST and Fashion-MNIST splits, fetched and verified (slow: needs the data)."""

from __future__ import annotations

import pytest
import torch

from benchmarks import data

pytestmark = pytest.mark.slow

FIRST_TRAIN_LABEL = {"mnist": 5, "fashion-mnist": 9}
SIZES = {"train": 60_000, "test": 10_000}


@pytest.mark.parametrize("name", data.DATASETS)
@pytest.mark.parametrize("split", data.SPLITS)
def test_real_split(name: str, split: str) -> None:
    s = data.load(name, split)
    n = SIZES[split]
    assert s.images.shape == (n, 1, 28, 28)
    assert s.images.dtype == torch.float32
    assert s.labels.shape == (n,)
    assert s.labels.dtype == torch.int64
    assert float(s.images.min()) == 0.0 and float(s.images.max()) == 1.0
    assert sorted(s.labels.unique().tolist()) == list(range(10))
    if split == "train":
        assert int(s.labels[0]) == FIRST_TRAIN_LABEL[name]


def test_fashion_mnist_train_is_balanced() -> None:
    counts = torch.bincount(data.load("fashion-mnist", "train").labels, minlength=10)
    assert counts.tolist() == [6_000] * 10


def test_cached_files_match_the_official_md5() -> None:
    for name in data.DATASETS:
        folder = data.fetch(name, progress=False)
        for fname in data.FILES:
            assert data._md5((folder / fname).read_bytes()) == data.MD5[name][fname]
