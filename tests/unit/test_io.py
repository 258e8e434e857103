"""Atomic writes and verified saved files (adapters/io.py)."""

from __future__ import annotations

import hashlib

import pytest
import torch

from adapters.io import (
    IntegrityError,
    atomic_path,
    atomic_torch_save,
    atomic_write_text,
    checksum_path,
    load_weights,
    quarantine,
)


def test_atomic_path_keeps_suffix_and_replaces(tmp_path):
    target = tmp_path / "sub" / "out.png"
    with atomic_path(target) as tmp:
        assert tmp.parent == target.parent and tmp.suffix == ".png" and tmp != target
        tmp.write_bytes(b"new")
    assert target.read_bytes() == b"new"
    assert target.stat().st_mode & 0o777 == 0o644
    assert sorted(p.name for p in target.parent.iterdir()) == ["out.png"]


def test_atomic_path_error_leaves_old_file_and_no_temp(tmp_path):
    target = tmp_path / "out.txt"
    atomic_write_text(target, "old")
    with pytest.raises(RuntimeError, match="boom"), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("boom")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_torch_save_writes_checksum_and_round_trips(tmp_path):
    path = tmp_path / "m.pt"
    digest = atomic_torch_save({"w": torch.arange(6.0)}, path)
    assert digest == hashlib.sha256(path.read_bytes()).hexdigest()
    assert checksum_path(path).read_text() == f"{digest}  m.pt\n"
    assert torch.equal(load_weights(path)["w"], torch.arange(6.0))


def test_flipped_bit_is_refused_with_both_checksums(tmp_path):
    path = tmp_path / "m.pt"
    digest = atomic_torch_save({"w": torch.zeros(64)}, path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match="does not match") as err:
        load_weights(path)
    assert str(path) in str(err.value) and digest in str(err.value)
    assert hashlib.sha256(bytes(data)).hexdigest() in str(err.value)


def test_truncated_file_names_the_path(tmp_path):
    path = tmp_path / "m.pt"
    atomic_torch_save({"w": torch.zeros(64)}, path)
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(IntegrityError, match="does not match"):
        load_weights(path)
    # without the checksum the zip reader's failure is still one error naming the file
    with pytest.raises(IntegrityError, match="not a readable torch file") as err:
        load_weights(path, verify=False)
    assert str(path) in str(err.value)


def test_missing_checksum_file_is_refused(tmp_path):
    path = tmp_path / "m.pt"
    torch.save({"w": torch.zeros(2)}, path)
    with pytest.raises(IntegrityError, match="checksum file m.pt.sha256 is missing"):
        load_weights(path)
    with pytest.raises(FileNotFoundError, match="no saved file"):
        load_weights(tmp_path / "absent.pt")


def test_quarantine_moves_file_and_checksum_aside(tmp_path):
    path = tmp_path / "m.pt"
    atomic_torch_save({"w": torch.zeros(2)}, path)
    moved = quarantine(path)
    assert not path.exists() and not checksum_path(path).exists()
    assert moved.is_file() and moved.name.startswith("m.pt.corrupt-")
    assert len(list(tmp_path.glob("m.pt.sha256.corrupt-*"))) == 1
