"""SpikeGenBench harness: data, suites, runner, metrics, records, tables and figures."""

from __future__ import annotations

__version__ = "0.1.0"
