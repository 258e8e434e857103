"""Cost measurements: peak resident memory of a block, wall time, throughput."""

from __future__ import annotations

import logging
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

logger = logging.getLogger(__name__)

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def _vmhwm_mib() -> float | None:
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0  # kB
    except OSError:
        return None
    return None


def _reset_vmhwm() -> bool:
    try:
        _CLEAR_REFS.write_text("5")  # "5" resets the peak RSS (VmHWM) to the current RSS.
    except OSError:
        return False
    return True


def _ru_maxrss_mib() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports KiB, macOS bytes.
    return peak / (1024.0 * 1024.0) if sys.platform == "darwin" else peak / 1024.0


class PeakMemory:
    """Peak resident memory (MiB) of this process while the ``with`` block ran.

    On Linux the kernel's high-water mark is reset on entry (``"5"`` written to
    ``/proc/self/clear_refs``) and ``VmHWM`` is read from ``/proc/self/status`` on exit, so the
    number is the peak during the block (``method == "vmhwm"``). Where the reset is not permitted
    or ``/proc`` is missing, it falls back to ``resource.getrusage(RUSAGE_SELF).ru_maxrss``, the
    peak over the **whole life of the process** so far (``method == "ru_maxrss"``), an upper bound
    of the block's peak. Memory of child processes is not included.

    Attributes:
        peak_mb: the peak in MiB, set on exit (``None`` before).
        method: ``"vmhwm"`` or ``"ru_maxrss"``.
    """

    def __init__(self) -> None:
        self.peak_mb: float | None = None
        self.method: str = "ru_maxrss"

    def __enter__(self) -> PeakMemory:
        self.method = "vmhwm" if _reset_vmhwm() and _vmhwm_mib() is not None else "ru_maxrss"
        if self.method == "ru_maxrss":
            logger.debug("cannot reset VmHWM; peak memory is the process-lifetime ru_maxrss")
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        peak = _vmhwm_mib() if self.method == "vmhwm" else None
        self.peak_mb = peak if peak is not None else _ru_maxrss_mib()


class Timer:
    """Wall time of a ``with`` block (``time.perf_counter``); ``seconds`` is set on exit."""

    def __init__(self) -> None:
        self.seconds: float | None = None
        self._t0 = 0.0

    def __enter__(self) -> Timer:
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.seconds = time.perf_counter() - self._t0


def throughput(fn: Callable[[], Any], n: int) -> float:
    """Samples per second of one call of ``fn`` that produces ``n`` samples.

    Args:
        fn: a callable doing the work once (e.g. ``lambda: model.sample(n, seed=0)``).
        n: samples it produces, ``>= 1``.

    Returns:
        ``n / wall seconds`` of the call (``inf`` if the clock did not advance).
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be an int >= 1, got {n!r}")
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    with Timer() as t:
        fn()
    return n / t.seconds if t.seconds else float("inf")
