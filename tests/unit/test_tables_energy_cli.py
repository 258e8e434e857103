"""``python -m benchmarks tables --energy-model``: the models of the energy columns, refused
by name when unknown."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import benchmarks.__main__ as cli

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "records"


def _results(tmp_path: Path) -> Path:
    """A results folder holding the fixture records as suite ``quick``'s."""
    shutil.copytree(FIXTURES, tmp_path / "quick" / "records",
                    ignore=shutil.ignore_patterns("*.md"))
    return tmp_path


def test_energy_models_pick_the_columns(tmp_path):
    root = _results(tmp_path)
    code = cli.main(["tables", "--suite", "quick", "--results-dir", str(root),
                     "--energy-model", "int8-compute", "fp32-compute:effective"])
    assert code == 0
    md = (root / "quick" / "tables" / "summary.md").read_text(encoding="utf-8")
    assert "Energy/sample int8-compute (nJ) ↓" in md
    assert "Energy vs ANN fp32-compute:effective (×) ↓" in md
    assert "memory-aware" not in md  # only the models asked for
    assert (root / "quick" / "figures" / "fid_vs_energy.png").is_file()


def test_default_is_fp32_compute_and_memory_aware(tmp_path):
    root = _results(tmp_path)
    assert cli.main(["tables", "--suite", "quick", "--results-dir", str(root)]) == 0
    md = (root / "quick" / "tables" / "summary.md").read_text(encoding="utf-8")
    assert "Energy/sample fp32-compute (nJ)" in md and "Energy/sample memory-aware (nJ)" in md


def test_an_unknown_model_is_one_line_naming_the_known(tmp_path, caplog):
    root = _results(tmp_path)
    with caplog.at_level(logging.ERROR):
        code = cli.main(["tables", "--suite", "quick", "--results-dir", str(root),
                         "--energy-model", "fp32-compute", "horowitz-7nm"])
    assert code == 2
    message = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR][-1]
    assert message.startswith("unknown energy model 'horowitz-7nm'")
    assert "known: ['fp32-compute', 'int8-compute', 'memory-aware']" in message
    assert not (root / "quick" / "tables").exists()  # refused before anything is written
