"""The feature-network cache: verified on load, rebuilt when corrupt, filled once under a lock."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

from adapters.io import checksum_path, sha256_file
from benchmarks.metrics import features as fmod

REPO = Path(__file__).resolve().parents[2]

# A toy data set any small network separates after one epoch: class k lights up row block k.
TOY = textwrap.dedent("""
    import torch
    from collections import namedtuple
    Split = namedtuple("Split", "images labels")
    def toy(n, seed):
        g = torch.Generator().manual_seed(seed)
        labels = torch.arange(n) % 10
        images = torch.rand(n, 1, 28, 28, generator=g) * 0.2
        for i, k in enumerate(labels.tolist()):
            images[i, 0, 2 * k + 4: 2 * k + 6, 4:24] = 1.0
        return Split(images, labels.long())
""")


def _toy():
    scope: dict = {}
    exec(TOY, scope)  # noqa: S102 - the same toy data the child processes build
    return scope["toy"](200, 0), scope["toy"](100, 1)


@pytest.fixture()
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SPIKEGENBENCH_CACHE", str(tmp_path))
    return tmp_path / "featurenets"


def _get(train, test):
    return fmod.get_feature_net("toy", train=train, test=test, epochs=1, progress=False,
                                min_accuracy=0.0)


def test_flipped_bit_is_moved_aside_and_rebuilt(cache, monkeypatch):
    train, test = _toy()
    net, info = _get(train, test)
    (path,) = cache.glob("*.pt")
    assert info.weights_sha256 == fmod.weights_digest(net) and len(info.weights_sha256) == 64
    assert sha256_file(path) == checksum_path(path).read_text().split()[0]
    blob = torch.load(path, weights_only=True)
    key = next(k for k in blob["state_dict"] if k.endswith("weight"))
    blob["state_dict"][key].view(-1).view(torch.int32)[0] ^= 1  # one flipped bit in a weight
    torch.save(blob, path)
    corrupt = fmod.FeatureNet()
    corrupt.load_state_dict(blob["state_dict"])
    assert fmod.weights_digest(corrupt) != info.weights_sha256  # what a record would have shown

    trained = []
    real = fmod.train_feature_net
    monkeypatch.setattr(fmod, "train_feature_net",
                        lambda *a, **k: trained.append(1) or real(*a, **k))
    net2, info2 = _get(train, test)
    assert trained == [1]  # rebuilt, not used
    assert len(list(cache.glob("*.pt.corrupt-*"))) == 1
    assert info2.weights_sha256 == info.weights_sha256  # the same recipe, the same weights
    for a, b in zip(net.state_dict().values(), net2.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_truncated_or_unverified_cache_is_rebuilt(cache, monkeypatch):
    train, test = _toy()
    _get(train, test)
    (path,) = cache.glob("*.pt")
    path.write_bytes(path.read_bytes()[:200])
    checksum_path(path).unlink()
    trained = []
    real = fmod.train_feature_net
    monkeypatch.setattr(fmod, "train_feature_net",
                        lambda *a, **k: trained.append(1) or real(*a, **k))
    net, info = _get(train, test)
    assert trained == [1] and info.weights_sha256 == fmod.weights_digest(net)
    assert sha256_file(path) == checksum_path(path).read_text().split()[0]


def _child(cache: Path, ready: Path, index: int) -> subprocess.Popen:
    code = TOY + textwrap.dedent(f"""
        import logging, pathlib, sys, time
        logging.basicConfig(level=logging.INFO, stream=sys.stderr)
        from benchmarks.metrics.features import get_feature_net
        train, test = toy(200, 0), toy(100, 1)
        ready = pathlib.Path({str(ready)!r})
        (ready / "{index}").touch()
        while len(list(ready.iterdir())) < 2:   # start asking at the same moment
            time.sleep(0.01)
        net, info = get_feature_net("toy", train=train, test=test, epochs=1, progress=False,
                                    min_accuracy=0.0)
        print(info.weights_sha256)
    """)
    env = {**os.environ, "SPIKEGENBENCH_CACHE": str(cache), "OMP_NUM_THREADS": "1",
           "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-c", code], env=env, cwd=REPO, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@pytest.mark.slow
def test_two_processes_train_one_network_once(tmp_path):
    ready = tmp_path / "ready"
    ready.mkdir()
    procs = [_child(tmp_path, ready, i) for i in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    logs = "".join(err for _, err in outs)
    assert logs.count("training feature net for toy") == 1, logs
    digests = {out.strip() for out, _ in outs}
    assert len(digests) == 1 and len(next(iter(digests))) == 64
    assert len(list((tmp_path / "featurenets").glob("*.pt"))) == 1


@pytest.mark.slow
def test_killed_training_leaves_no_cache_entry(tmp_path):
    ready = tmp_path / "ready"
    ready.mkdir()
    (ready / "other").touch()  # a lone child need not wait for a partner
    proc = _child(tmp_path, ready, 0)
    deadline = time.monotonic() + 120
    seen = ""
    while "training feature net" not in seen and time.monotonic() < deadline:
        seen += proc.stderr.readline()
    assert "training feature net" in seen, seen
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    cache = tmp_path / "featurenets"
    assert not list(cache.glob("*.pt")) and not list(cache.glob("*.sha256"))
    # the lock died with its holder: the next process trains cleanly
    for f in ready.iterdir():
        f.unlink()
    (ready / "other").touch()
    again = _child(tmp_path, ready, 0)
    out, err = again.communicate(timeout=300)
    assert again.returncode == 0, err
    assert "training feature net for toy" in err
    assert len(list(cache.glob("*.pt"))) == 1
