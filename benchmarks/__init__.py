"""SpikeGenBench harness: data, suites, planning, executing cells, records, metrics, tables and figures."""

from __future__ import annotations

__version__ = "0.1.0"
