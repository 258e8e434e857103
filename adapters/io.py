"""Atomic file writes and weights-only persistence, shared by the adapters and the harness.

Every file the suite writes (records, tables, figures, saved models, cached data) goes through
:func:`atomic_path`: the content is written to a temp file beside the target and moved onto it
with ``os.replace``, so an interrupted write never leaves a half-written file behind.
"""

from __future__ import annotations

import os
import tempfile
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


def atomic_torch_save(obj: Any, path: str | Path) -> None:
    """``torch.save`` ``obj`` to ``path`` atomically (see :func:`atomic_path`).

    ``obj`` should hold only tensors and plain Python values so that it loads with
    ``torch.load(..., weights_only=True)``.
    """
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def load_weights(path: str | Path) -> Any:
    """Load what :func:`atomic_torch_save` wrote, refusing pickled code (``weights_only=True``)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no saved model at {path}")
    return torch.load(path, map_location="cpu", weights_only=True)
