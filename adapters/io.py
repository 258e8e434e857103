"""Atomic file writes and verified weights-only persistence, shared by the adapters and the harness.

Every file the suite writes (records, tables, figures, saved models, cached data) goes through
:func:`atomic_path`: the content is written to a temp file beside the target and moved onto it
with ``os.replace``, so an interrupted write never leaves a half-written file behind.

Saved models and cached networks (:func:`atomic_torch_save`) get their SHA-256 in a file beside
them (``<name>.sha256``, in ``sha256sum`` format) and :func:`load_weights` checks it, so a
flipped bit or a truncated file is an :class:`IntegrityError` naming the path, never silently
different numbers.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch


@contextmanager
def atomic_path(path: str | Path, *, mode: int = 0o644) -> Iterator[Path]:
    """A temp path beside ``path`` to write to; moved onto ``path`` when the block succeeds.

    The temp file keeps ``path``'s suffix (matplotlib and numpy pick the format from it). On
    success it is flushed to disk, given ``mode`` (``mkstemp`` makes 0600; results and caches
    are for everyone to read) and renamed onto ``path``; on any error, Ctrl-C included, it is
    removed and ``path`` is left as it was.

    Example:
        >>> with atomic_path(out) as tmp:
        ...     fig.savefig(tmp)
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".tmp{path.suffix}",
                                    dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_path`)."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically (see :func:`atomic_path`)."""
    atomic_write_bytes(path, text.encode("utf-8"))


class IntegrityError(ValueError):
    """A saved file is unreadable or does not match the SHA-256 recorded beside it."""

    def __init__(self, path: Path, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def checksum_path(path: str | Path) -> Path:
    """Where the SHA-256 of ``path`` is kept: ``<path>.sha256`` beside it."""
    path = Path(path)
    return path.with_name(path.name + ".sha256")


def atomic_torch_save(obj: Any, path: str | Path) -> str:
    """``torch.save`` ``obj`` to ``path`` atomically and record its SHA-256 beside it.

    ``obj`` should hold only tensors and plain Python values so that it loads with
    ``torch.load(..., weights_only=True)``. The checksum file is written after the file itself:
    a crash in between leaves a file without a checksum, which :func:`load_weights` refuses.

    Returns:
        The file's hex SHA-256.
    """
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)
        digest = sha256_file(tmp)
    atomic_write_text(checksum_path(path), f"{digest}  {path.name}\n")
    return digest


def verify_checksum(path: str | Path) -> str:
    """Check ``path`` against its ``.sha256`` file; returns the hex SHA-256.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        IntegrityError: no checksum file, an unreadable one, or a mismatch (names both sums).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no saved file at {path}")
    sidecar = checksum_path(path)
    try:
        expected = sidecar.read_text(encoding="utf-8").split()[0].lower()
    except (OSError, UnicodeDecodeError, IndexError):
        raise IntegrityError(path, f"its checksum file {sidecar.name} is missing or unreadable; "
                                   f"the file cannot be verified") from None
    actual = sha256_file(path)
    if actual != expected:
        raise IntegrityError(path, f"SHA-256 {actual} does not match {expected} recorded in "
                                   f"{sidecar.name}: the file is corrupt or was changed")
    return actual


def load_weights(path: str | Path, *, verify: bool = True) -> Any:
    """Load what :func:`atomic_torch_save` wrote, refusing pickled code (``weights_only=True``).

    Args:
        path: the saved file.
        verify: check it against its ``.sha256`` file first (see :func:`verify_checksum`).

    Raises:
        FileNotFoundError: no file at ``path``.
        IntegrityError: checksum missing or different, or the file is not a readable torch file.
    """
    path = Path(path)
    if verify:
        verify_checksum(path)
    elif not path.is_file():
        raise FileNotFoundError(f"no saved file at {path}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile) as err:
        raise IntegrityError(path, f"not a readable torch file ({type(err).__name__}: "
                                   f"{str(err).splitlines()[0] if str(err) else ''})") from err


def quarantine(path: str | Path) -> Path:
    """Move a bad file (and its checksum file) aside as ``<name>.corrupt-<unix time>``.

    Returns:
        Where the file now is, for the message that reports it.
    """
    path = Path(path)
    stamp = int(time.time())
    moved = path.with_name(f"{path.name}.corrupt-{stamp}")
    if path.exists():
        os.replace(path, moved)
    sidecar = checksum_path(path)
    if sidecar.exists():
        os.replace(sidecar, sidecar.with_name(f"{sidecar.name}.corrupt-{stamp}"))
    return moved
