"""Peak memory, timer and throughput helpers."""

from __future__ import annotations

import time

import numpy as np
import pytest

from benchmarks.metrics.cost import PeakMemory, Timer, throughput


def test_peak_memory_sees_a_large_allocation_inside_the_block():
    with PeakMemory() as idle:
        pass
    with PeakMemory() as busy:
        block = np.ones(200 * 1024 * 1024 // 8)  # 200 MiB, touched
        del block
    assert idle.peak_mb is not None and busy.peak_mb is not None
    assert busy.method in ("vmhwm", "ru_maxrss")
    assert busy.peak_mb >= 200
    if busy.method == "vmhwm":
        # The high-water mark was reset on entry, so the empty block did not see the 200 MiB.
        with PeakMemory() as after:
            pass
        assert after.peak_mb < busy.peak_mb - 150


def test_timer_and_throughput():
    with Timer() as t:
        time.sleep(0.05)
    assert 0.04 < t.seconds < 1.0
    rate = throughput(lambda: time.sleep(0.05), 10)
    assert 10 < rate < 250
    with pytest.raises(ValueError, match="n must be"):
        throughput(lambda: None, 0)
    with pytest.raises(TypeError, match="callable"):
        throughput(42, 1)
