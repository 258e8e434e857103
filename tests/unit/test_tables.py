"""Tables from the committed fixture records: the frames, failures, bold, LaTeX, CSV, errors."""

from __future__ import annotations

import copy
import csv
import dataclasses
import json
import math
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmarks import frame as F
from benchmarks import tables
from benchmarks.metrics import keys as K
from benchmarks.metrics.energy import TABLE_ENERGY_MODELS
from benchmarks.tables import build_tables, load_records, write_tables

#: The default table's columns: the record metrics, the energy pair per table-time model.
# the fixture records have no diffusion rows: their columns (denoiser calls, energy per call) stay out
COLUMNS = tuple(spec for spec in K.table_columns(TABLE_ENERGY_MODELS)
                if spec.families != frozenset({"diffusion"}))

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "records"


@pytest.fixture(scope="module")
def records():
    return load_records(FIXTURES)


def summary(records):
    return F.summarize(F.cells(records))


@pytest.fixture(scope="module")
def rows(records):
    return {(r["dataset"], r["label"]): r for _, r in summary(records).iterrows()}


def stat(row, key):
    """(mean, std, n) of one summary row; None where absent."""
    return F.value(row, key), F.value(row, key, "std"), int(row[f"{key}_n"])


@pytest.fixture(scope="module")
def written(records, tmp_path_factory):
    out = tmp_path_factory.mktemp("tables")
    paths = write_tables(records, out)
    return {p.name: p for p in paths}


def test_loads_every_fixture(records):
    assert len(records) == len(list(FIXTURES.glob("*.json")))
    assert {r["status"] for r in records} == {"ok", "failed", "skipped"}


def test_cells_frame_has_a_row_per_cell(records):
    cells = F.cells(records)
    assert len(cells) == len(records)
    assert list(cells.columns[:len(F.ID_COLUMNS)]) == list(F.ID_COLUMNS)
    assert F.metric_columns(cells)[:3] == [K.FID, K.KID, K.KID_STD]  # keys.METRICS order
    failed = cells[cells["cell_id"] == "surrogate-vae-T8__fashion-mnist__seed2"].iloc[0]
    assert failed["status"] == "failed" and math.isnan(failed[K.FID])  # never a number
    assert failed["reason"].startswith("FloatingPointError: loss is NaN")
    stdp = cells[cells["label"] == "stdp-ae"].iloc[0]
    assert stdp["family"] == "autoencoder"  # from the record, not from the name
    ann = cells[cells["cell_id"] == "ann-vae__mnist__seed0"].iloc[0]
    assert ann[F.CONFIG_PREFIX + "n_samples"] == 10000
    assert ann[F.CONFIG_PREFIX + "feature_extractor"] == "classifier-cnn-v1[mnist]"


def test_mean_and_sample_std_by_hand(rows):
    ann = rows[("mnist", "ann-vae")]
    assert ann["status"] == "ok" and ann["n_ok"] == 3 and ann["seeds"] == (0, 1, 2)
    assert stat(ann, K.FID) == (pytest.approx(12.0), pytest.approx(2.0), 3)  # ddof=1: 10, 12, 14
    snn = rows[("mnist", "surrogate-vae-T8")]
    assert stat(snn, K.FID) == (pytest.approx(23.0), pytest.approx(math.sqrt(13.0)), 3)
    assert stat(snn, K.PRECISION)[:2] == (pytest.approx(0.82), pytest.approx(0.02))


def test_means_are_exact_sums():
    assert F.mean([1e16, 1.0, -1e16]) == 1 / 3  # a running sum would give 0
    assert F.std([1.0]) != F.std([1.0])  # NaN below two values
    assert F.std([2.0, 2.0]) == 0.0


def test_recon_of_a_gan_is_not_applicable(rows):
    gan = rows[("mnist", "surrogate-gan-T8")]
    assert gan["status"] == "ok" and gan["family"] == "gan"
    assert stat(gan, K.RECON_MSE) == (None, None, 0)
    assert not K.spec(K.RECON_MSE).applies_to("gan")
    assert stat(gan, K.FID)[0] == pytest.approx(37.0)


def test_failed_group_is_a_failure_not_a_number(rows):
    conv = rows[("mnist", "conversion-vae-T32")]
    assert conv["status"] == "failed" and conv["n_ok"] == 0
    assert stat(conv, K.FID) == (None, None, 0)
    assert conv["error"].startswith("failed: RuntimeError: SNN Toolbox")
    stdp = rows[("fashion-mnist", "stdp-ae")]
    assert stdp["status"] == "skipped" and "spyker" in stdp["error"]


def test_failed_seed_stays_out_of_the_mean(records, rows):
    row = rows[("fashion-mnist", "surrogate-vae-T8")]
    assert row["status"] == "ok" and row["n_ok"] == 2 and row["seeds"] == (0, 1, 2)
    assert stat(row, K.FID)[0::2] == (pytest.approx(42.0), 2)  # 40, 44; seed 2 failed
    left_out = F.failures(F.cells(records), "fashion-mnist", "surrogate-vae-T8")
    assert list(zip(left_out["seed"], left_out["status"], strict=True)) == [(2, "failed")]


def test_row_order_backend_then_label(records):
    order = list(zip(summary(records)["dataset"], summary(records)["label"], strict=True))
    assert order == [
        ("mnist", "ann-vae"), ("mnist", "surrogate-gan-T8"), ("mnist", "surrogate-vae-T4"),
        ("mnist", "surrogate-vae-T8"), ("mnist", "conversion-vae-T32"),
        ("fashion-mnist", "ann-vae"), ("fashion-mnist", "surrogate-vae-T8"),
        ("fashion-mnist", "stdp-ae"),
    ]


def test_natural_label_order():
    labels = ["surrogate-vae-T16", "surrogate-vae-T4", "surrogate-vae-T8"]
    assert sorted(labels, key=F.natural) == ["surrogate-vae-T4", "surrogate-vae-T8",
                                             "surrogate-vae-T16"]


def test_duplicate_seed_is_an_error(records):
    twin = copy.deepcopy(next(r for r in records if r["cell_id"] == "ann-vae__mnist__seed0"))
    with pytest.raises(ValueError, match=r"seed\(s\) \[0\]"):
        F.cells([*records, twin])


def test_one_label_two_adapters_is_an_error(records):
    other = copy.deepcopy(next(r for r in records if r["cell_id"] == "ann-vae__mnist__seed0"))
    other["seed"] = 7
    other["adapter"]["name"] = "ann-gan"
    with pytest.raises(ValueError, match="'ann-vae' on mnist names different adapters"):
        F.cells([*records, other])


def _bold(table, key):
    return [table.rows.at[i, "label"] for i in table.rows.index if table.best.at[i, key]]


def test_bold_follows_the_direction_in_keys(records):
    table = build_tables(records)[0]
    assert table.dataset == "mnist"

    def bold(key):
        return _bold(table, key)

    assert K.spec(K.FID).higher_is_better is False
    assert bold(K.FID) == ["ann-vae"]  # lowest FID
    assert K.spec(K.PRECISION).higher_is_better is True
    assert bold(K.PRECISION) == ["surrogate-vae-T8"]  # highest precision (0.82 > 0.75 > 0.72)
    assert bold(K.energy_key("fp32-compute")) == ["surrogate-vae-T4"]
    assert K.ENERGY_NJ not in table.best  # replaced by the table-time models' columns
    legacy = build_tables(records, energy_models=())[0]  # the records' own energy metric
    assert _bold(legacy, K.ENERGY_NJ) == ["surrogate-vae-T4"]
    assert K.spec(K.TIMESTEPS).higher_is_better is None
    assert bold(K.TIMESTEPS) == []  # no direction, no bold
    assert bold(K.SPIKES) == []  # operation counts are not ranked


def test_a_tie_is_bold_in_every_tied_row(records):
    records = copy.deepcopy(records)
    for r in records:  # the fixtures predate the 5 % count: ann-vae and T4 tie at 10 classes
        if r["status"] == "ok":
            r["metrics"][K.CLASSES_AT_5PCT] = r["metrics"][K.CLASSES_COVERED]
    table = build_tables(records)[0]
    assert table.means.at[0, K.CLASSES_AT_5PCT] == "10.0"
    assert _bold(table, K.CLASSES_AT_5PCT) == ["ann-vae", "surrogate-vae-T4"]


def test_bold_flips_when_the_direction_flips(records, monkeypatch):
    flipped = dict(K.METRICS)
    flipped[K.FID] = dataclasses.replace(K.METRICS[K.FID], higher_is_better=True)
    monkeypatch.setattr(K, "METRICS", flipped)
    assert _bold(build_tables(records)[0], K.FID) == ["surrogate-gan-T8"]


def test_a_declared_metric_becomes_a_column(records, monkeypatch, tmp_path):
    """Adding a metric is one declaration: its column, unit, format and bold follow from it."""
    last = K.table_columns()[-1].label
    declared = dict(K.METRICS)
    declared["latency_ms"] = K.MetricSpec("latency_ms", False, "Latency", "ms", fmt=".1f",
                                          column=len(K.table_columns()))
    monkeypatch.setattr(K, "METRICS", declared)
    records = copy.deepcopy(records)
    for r in records:
        if r["status"] == "ok" and r["dataset"]["name"] == "mnist":
            r["metrics"]["latency_ms"] = 10.0 if r["adapter"]["label"] == "ann-vae" else 20.0
    paths = {p.name: p for p in write_tables(records, tmp_path)}
    md = paths["summary.md"].read_text(encoding="utf-8")
    assert "| Latency (ms) ↓ |" in md
    assert "**10.0** |" in next(line for line in md.splitlines() if line.startswith("| ann-vae"))
    assert "latency_ms_mean" in paths["summary.csv"].read_text()
    lower = tables.tex_escape(tables._head(last)[1])  # the header row of one-word names
    assert rf"& {lower} & Latency \\" in paths["summary.tex"].read_text()


def test_a_metric_that_does_not_apply_to_a_family_is_not_applicable(records, monkeypatch):
    declared = dict(K.METRICS)
    declared[K.FID] = dataclasses.replace(K.METRICS[K.FID], families=frozenset({"vae"}))
    monkeypatch.setattr(K, "METRICS", declared)
    table = build_tables(records)[0]
    gan = next(i for i in table.rows.index if table.rows.at[i, "family"] == "gan")
    assert table.means.at[gan, K.FID] == tables.NOT_APPLICABLE
    assert "surrogate-gan-T8" not in _bold(table, K.FID)


def test_markdown_content(written):
    md = written["summary.md"].read_text(encoding="utf-8")
    assert "## mnist" in md and "## fashion-mnist" in md
    assert "FID ↓" in md and "Precision ↑" in md and "| T |" in md
    assert "**12.00 ± 2.00**" in md  # best FID, ann-vae on mnist
    assert "**0.820 ± 0.020**" in md
    assert "**failed**: RuntimeError: SNN Toolbox" in md
    assert "**skipped**: ImportError" in md
    assert "data floor (train vs test) 0.52" in md and "noise ceiling" in md and "312.40" in md
    assert "classifier-cnn-v1[mnist] (test accuracy 99.20%)" in md
    assert "Energy/sample fp32-compute (nJ) ↓" in md and "Energy/sample memory-aware" in md
    assert "fp32-compute: 4.6 pJ/MAC (dense), 0.9 pJ/AC (Horowitz, ISSCC 2014" in md
    assert "seed 2 failed (FloatingPointError" in md
    gan_line = next(line for line in md.splitlines() if line.startswith("| surrogate-gan-T8"))
    assert "—" in gan_line  # recon MSE not applicable
    conv_line = next(line for line in md.splitlines() if line.startswith("| conversion-vae-T32"))
    assert not re.search(r"\d+\.\d+ ±", conv_line)  # a failed cell is never a number
    widths = {len(re.split(r"(?<!\\)\|", line)) for line in md.splitlines()
              if line.startswith("|")}
    assert widths == {4 + len(COLUMNS) + 2}  # same cell count on every table line


def _strip_escaped(line: str) -> str:
    return re.sub(r"\\[&%$#_{}]", "", line)


def test_latex_parses(written):
    tex = written["summary.tex"].read_text(encoding="utf-8")
    assert tex.isascii()
    body = re.sub(r"(?m)^%.*$", "", tex)
    depth = 0
    for ch in _strip_escaped(body):
        depth += {"{": 1, "}": -1}.get(ch, 0)
        assert depth >= 0
    assert depth == 0
    assert tex.count(r"\begin{table}") == tex.count(r"\end{table}") == 2
    for env in ("tabular", "table"):
        assert tex.count(rf"\begin{{{env}}}") == tex.count(rf"\end{{{env}}}")
    assert tex.count(r"\toprule") == tex.count(r"\bottomrule") == 2
    assert r"\textbf{12.00}\,{\tiny$\pm$\,2.00}" in tex  # the std a size smaller
    assert r"\caption{" in tex and "classifier-cnn-v1{[}mnist{]}" in tex
    ncols = 2 + len(COLUMNS)  # Method, n, then the declared metric columns
    blocks = re.findall(r"\\begin\{tabular\}\{(\w+)\}(.*?)\\end\{tabular\}", tex, re.S)
    assert len(blocks) == 2
    for spec, content in blocks:
        assert spec == "l" + "r" * (ncols - 1)
        for line in content.strip().splitlines():
            if line.startswith("\\") and line.rstrip().endswith("rule"):
                continue
            assert line.endswith(r" \\"), line
            cells = _strip_escaped(line[:-3]).split("&")
            span = sum(int(m) for m in re.findall(r"\\multicolumn\{(\d+)\}", line))
            count = len(cells) + (span - len(re.findall(r"\\multicolumn", line)))
            assert count == ncols, line
            # No unescaped special outside math and commands.
            text = _strip_escaped(line)
            text = re.sub(r"\$[^$]*\$", "", text)
            assert not re.search(r"[%#_^~]", text), line
    # under the header's rule, a title row per backend group (ann | surrogate | conversion on
    # mnist), each later group opened by a \midrule of its own
    mnist = tex.split(r"\end{table}")[0]
    assert mnist.count(r"\midrule") == 3
    empty = " & " * (ncols - 1)
    for i, title in enumerate(("ANN baselines (non-spiking)", "Surrogate-gradient SNNs (snntorch)",
                               "ANN-to-SNN conversion (SNN Toolbox)")):
        rule = r"\midrule " if i else ""
        line = rf"{rule}\multicolumn{{1}}{{l}}{{\rlap{{\emph{{{title}}}}}}}{empty}\\"
        assert line.replace("  ", " ") in mnist.replace("  ", " ")
    # names over two header rows (split after the first word), then a row of units and
    # directions; "per sample" said in the caption
    top, names = mnist.split("\\toprule\n")[1].splitlines()[:2]
    assert "& Recon. & " in top and "& fp32 & fp32 & memory & memory & " in top
    assert top.endswith("& Classes & Top \\\\")
    assert "Method & $n$ & FID & (AE) & KID & Precision & Recall & MSE & Spikes & SynOps & " \
           "MACs & Energy & vs ANN & Energy & vs ANN & T & time & $\\geq$5 \\% & class \\\\" \
           == names
    assert "Energy columns: fp32 = fp32-compute, memory = memory-aware" in mnist
    assert r"& (nJ) $\downarrow$ &" in mnist and "per generated sample" in mnist
    failed = next(line for line in mnist.splitlines() if line.startswith("conversion-vae-T32"))
    assert r"& \multicolumn{1}{l}{\rlap{\emph{failed: RuntimeError: SNN Toolbox" in failed
    assert not re.search(r"\d\.\d", failed) and "pm" not in failed  # a failure is never a number


def test_std_is_shown_in_the_means_units_and_decimals():
    assert tables._like("2.01k", 14.8) == "0.01k"
    assert tables._like("0.776", 0.00684) == "0.007"
    assert tables._like("1262", 8.6) == "9"
    assert tables._like("4.56M", 140e3) == "0.14M"


def test_long_column_names_take_two_header_rows():
    assert tables._head("Energy vs ANN") == ("Energy", "vs ANN")
    assert tables._head("Classes ≥5 %") == ("Classes", "≥5 %")
    assert tables._head("FID") == ("", "FID")


def test_tex_escape():
    assert tables.tex_escape("a_b & 5% $x #1 {y} ~ ^") == (
        r"a\_b \& 5\% \$x \#1 \{y\} \textasciitilde{} \textasciicircum{}")
    assert tables.tex_escape("µJ × ±") == r"$\mu$J $\times$ $\pm$"
    assert tables.tex_escape("é[x]\\") == r"e{[}x{]}\textbackslash{}"
    assert tables.tex_escape("≈").isascii()
    assert tables.tex_escape("ρ τ † ≥5 %") == r"$\rho$ $\tau$ $^\dagger$ $\geq$5 \%"


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex not installed")
def test_latex_compiles(written, records, tmp_path):
    # also with FID (AE) on mnist: the rank-agreement caption, a marked row, three-digit FIDs
    with_ae = {p.name: p for p in write_tables(_with_fid_ae(records, {
        label: 100.0 + fid for label, fid in _FID_AE.items()}), tmp_path / "ae")}
    inputs = "".join(f"\\input{{{paths['summary.tex'].as_posix()}}}\n"
                     for paths in (written, with_ae))
    doc = tmp_path / "doc.tex"
    doc.write_text("\\documentclass{article}\n\\usepackage[a4paper,landscape,margin=2cm]{geometry}\n"
                   f"\\usepackage{{booktabs}}\n\\begin{{document}}\n{inputs}\\end{{document}}\n")
    proc = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", doc.name],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "Overfull \\hbox" not in (tmp_path / "doc.log").read_text()  # fits a landscape page


def test_csv_round_trips(written, records):
    with written["summary.csv"].open(newline="", encoding="utf-8") as fh:
        lines = list(csv.DictReader(fh))
    frame = summary(records)
    assert list(lines[0])[:len(F.SUMMARY_ID_COLUMNS)] == list(F.SUMMARY_ID_COLUMNS)
    assert [(d["dataset"], d["label"]) for d in lines] == list(
        zip(frame["dataset"], frame["label"], strict=True))
    keys = F.metric_columns(F.cells(records))
    for line, (_, row) in zip(lines, frame.iterrows(), strict=True):
        assert line["status"] == row["status"] and int(line["n_ok"]) == row["n_ok"]
        assert line["seeds"] == " ".join(str(s) for s in row["seeds"])
        for key in keys:
            mean, std, n = stat(row, key)
            assert (float(line[f"{key}_mean"]) if line[f"{key}_mean"] else None) == mean
            assert (float(line[f"{key}_std"]) if line[f"{key}_std"] else None) == std
            assert int(line[f"{key}_n"]) == n
    conv = next(d for d in lines if d["label"] == "conversion-vae-T32")
    assert conv["fid_mean"] == "" and conv["error"].startswith("failed: RuntimeError")


def test_output_is_byte_identical(records, written, tmp_path):
    again = {p.name: p for p in write_tables(records, tmp_path)}
    shuffled = {p.name: p for p in write_tables(list(reversed(records)), tmp_path / "r")}
    for name, path in written.items():
        assert path.read_bytes() == again[name].read_bytes() == shuffled[name].read_bytes()
    assert not list(tmp_path.glob(".*.tmp"))


def test_energy_unit_is_readable():
    assert tables.energy_unit([90.0, 1479.0]) == ("nJ", 1.0)
    assert tables.energy_unit([90.0, 45_000.0]) == ("µJ", 1e3)
    assert tables.energy_unit([]) == ("nJ", 1.0)


def _copy_fixture(tmp_path: Path, change) -> Path:
    folder = tmp_path / "records"
    folder.mkdir()
    src = FIXTURES / "ann-vae__mnist__seed0.json"
    data = json.loads(src.read_text())
    change(data)
    (folder / src.name).write_text(json.dumps(data))
    return folder


def test_wrong_schema_version_names_the_file(tmp_path):
    folder = _copy_fixture(tmp_path, lambda d: d.update(schema_version=2))
    with pytest.raises(ValueError, match=r"ann-vae__mnist__seed0\.json.*schema_version 2"):
        load_records(folder)


def test_missing_key_names_the_file(tmp_path):
    folder = _copy_fixture(tmp_path, lambda d: d.pop("metrics"))
    with pytest.raises(ValueError, match=r"ann-vae__mnist__seed0\.json.*metrics"):
        load_records(folder)


def test_missing_label_names_the_file(tmp_path):
    folder = _copy_fixture(tmp_path, lambda d: d["adapter"].pop("label"))
    with pytest.raises(ValueError, match=r"ann-vae__mnist__seed0\.json: adapter\.label"):
        load_records(folder)


def test_missing_family_names_the_file(tmp_path):
    """Families come from the record (the adapter class), never from a row's name."""
    folder = _copy_fixture(tmp_path, lambda d: d["adapter"].pop("family"))
    with pytest.raises(ValueError, match=r"ann-vae__mnist__seed0\.json: adapter\.family"):
        load_records(folder)


def test_non_numeric_metric_names_the_file(tmp_path):
    folder = _copy_fixture(tmp_path, lambda d: d["metrics"].update(fid="12.0"))
    with pytest.raises(ValueError, match=r"seed0\.json: metrics\['fid'\] must be a number"):
        load_records(folder)


def test_missing_folder_and_empty_records(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        load_records(tmp_path / "nowhere")
    assert load_records(tmp_path) == []
    with pytest.raises(ValueError, match="at least one record"):
        write_tables([], tmp_path)


# --------------------------------------------------------------------------------------------
# Rank agreement of two scores (frame.rank_agreement) and the caption line it gives


def _scores(*values: float, names: str = "abcdefgh") -> pd.Series:
    return pd.Series(values, index=list(names[:len(values)]), dtype=float)


def test_identical_rankings_agree_fully():
    x = _scores(3.0, 1.0, 4.0, 1.5, 9.0)
    agreement = F.rank_agreement(x, 10 * x + 2)  # other values, the same order
    assert (agreement.n, agreement.spearman, agreement.kendall) == (5, 1.0, 1.0)
    assert agreement.moved == ()


def test_reversed_rankings_disagree_fully():
    agreement = F.rank_agreement(_scores(1, 2, 3, 4, 5), _scores(50, 40, 30, 20, 10))
    assert (agreement.spearman, agreement.kendall) == (pytest.approx(-1.0), pytest.approx(-1.0))
    # b and d move two places (2 <-> 4) and are not marked; a and e move four
    assert agreement.moved == (("a", 1.0, 5.0), ("e", 5.0, 1.0))


def test_a_tie_by_hand():
    # x ties b and c: average ranks 1, 2.5, 2.5, 4; y ranks 1, 3, 2, 4.
    # Spearman: centred ranks (-1.5, 0, 0, 1.5) and (-1.5, 0.5, -0.5, 1.5):
    #   4.5 / sqrt(4.5 * 5) = sqrt(0.9).
    # Kendall tau-b: of 6 pairs 5 concordant, none discordant, (b, c) tied in x only:
    #   5 / sqrt((6 - 1) * (6 - 0)) = 5 / sqrt(30).
    x, y = _scores(1, 2, 2, 3), _scores(1, 3, 2, 4)
    assert F.ranks(x).tolist() == [1.0, 2.5, 2.5, 4.0]
    assert F.spearman(x, y) == pytest.approx(math.sqrt(0.9))
    assert F.kendall(x, y) == pytest.approx(5 / math.sqrt(30))


def test_ties_agree_with_scipy():
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(3)
    for _ in range(20):
        x = pd.Series(rng.integers(0, 4, 9).astype(float))  # many ties on both sides
        y = pd.Series(rng.integers(0, 4, 9).astype(float))
        if x.nunique() == 1 or y.nunique() == 1:
            continue
        assert F.spearman(x, y) == pytest.approx(stats.spearmanr(x, y).statistic)
        assert F.kendall(x, y) == pytest.approx(stats.kendalltau(x, y).statistic)  # tau-b


def test_a_row_that_moves_three_places_is_marked_two_is_not():
    x = _scores(1, 2, 3, 4, 5, 6, 7)  # a..g
    y = pd.Series({"b": 1, "c": 2, "d": 3, "a": 4, "g": 5, "e": 6, "f": 7}, dtype=float)
    # a: 1 -> 4 (three places), g: 7 -> 5 (two), e and f: one, b, c, d: one
    assert F.moved_rows(x, y) == (("a", 1.0, 4.0),)
    assert F.moved_rows(x, y, places=1) == (("a", 1.0, 4.0), ("g", 7.0, 5.0))
    assert F.rank_agreement(x, y).moved == (("a", 1.0, 4.0),)


def test_rows_without_both_values_take_no_part():
    x = _scores(1, 2, 3, 4, 5)
    y = pd.Series({"a": 10.0, "b": 30.0, "c": math.nan, "d": 20.0, "x": 1.0})
    agreement = F.rank_agreement(x, y)
    assert agreement.n == 3  # a, b, d: c is NaN in y, e is not in y, x is not in x
    # ranks among a, b, d: 1, 2, 3 against 1, 3, 2: 1 - 6 * (0 + 1 + 1) / (3 * 8) = 0.5
    assert agreement.moved == () and agreement.spearman == pytest.approx(0.5)
    assert F.rank_agreement(x, y.drop("d")) is None  # two rows: nothing to say
    tied = F.rank_agreement(_scores(1, 1, 1), _scores(1, 2, 3))  # x all tied: no correlation
    assert tied.n == 3 and math.isnan(tied.spearman) and math.isnan(tied.kendall)


@pytest.mark.parametrize(("x", "kwargs", "error", "match"), [
    (pd.Series([1.0, 2.0, 3.0], index=["a", "a", "b"]), {}, ValueError,
     r"x names rows \['a'\] more than once"),
    (_scores(1, 2, 3), {"places": -1}, ValueError, "places must be an integer >= 0, got -1"),
    (_scores(1, 2, 3), {"min_rows": 1}, ValueError, "min_rows must be an integer >= 2, got 1"),
    (pd.Series(["1", "2", "3"], index=list("abc")), {}, TypeError,
     "x must be a numeric pandas Series indexed by row, got (str|object)"),
    ([1.0, 2.0, 3.0], {}, TypeError, "x must be a numeric pandas Series.*list"),
])
def test_rank_agreement_rejects(x, kwargs, error, match):
    with pytest.raises(error, match=match):
        F.rank_agreement(x, _scores(1, 2, 3), **kwargs)


#: FID (AE) per mnist label: ann-vae is first by FID (12.0) and last here, three places down;
#: by FID the others are surrogate-vae-T8 23, surrogate-vae-T4 31, surrogate-gan-T8 37.
_FID_AE = {"ann-vae": 8.0, "surrogate-vae-T8": 5.0, "surrogate-vae-T4": 6.0,
           "surrogate-gan-T8": 7.0}


def _with_fid_ae(records, by_label, dataset="mnist"):
    out = copy.deepcopy(records)
    for r in out:
        label = r["adapter"]["label"]
        if r["status"] == "ok" and r["dataset"]["name"] == dataset and label in by_label:
            r["metrics"][K.FID_AE] = by_label[label]
    return out


#: The rank-agreement line of the mnist caption with _FID_AE. Ranks by FID 1, 2, 3, 4 against
#: 4, 1, 2, 3: Spearman 1 - 6 * (9 + 1 + 1 + 1) / (4 * 15) = -0.2; Kendall: ann-vae's three
#: pairs discordant, the other three concordant: 0.
AGREEMENT_LINE = ("Rank agreement of FID between the feature spaces (FID vs FID (AE), 4 rows): "
                  "Spearman ρ = -0.20, Kendall τ = 0.00.")


def test_caption_states_the_rank_agreement(records, tmp_path):
    mnist, fashion = build_tables(_with_fid_ae(records, _FID_AE))
    assert AGREEMENT_LINE in mnist.notes
    assert "† FID rank and FID (AE) rank (1 = lowest) more than 2 places apart: ann-vae 1 vs 4." \
        in mnist.notes
    assert [mnist.name(i) for i in mnist.rows.index][:2] == ["ann-vae†", "surrogate-gan-T8"]
    assert fashion.agreement is None  # no fid_ae there
    paths = {p.name: p for p in write_tables(_with_fid_ae(records, _FID_AE), tmp_path)}
    md = paths["summary.md"].read_text(encoding="utf-8")
    assert AGREEMENT_LINE in md and md.count("Rank agreement") == 1
    assert any(line.startswith("| ann-vae† | ann |") for line in md.splitlines())
    tex = paths["summary.tex"].read_text(encoding="utf-8")
    assert (r"FID (AE), 4 rows): Spearman $\rho$ = -0.20, Kendall $\tau$ = 0.00." in tex)
    assert any(line.startswith(r"ann-vae$^\dagger$ & ") for line in tex.splitlines())


def test_agreement_needs_three_rows_with_both_fids(records):
    (mnist, _) = build_tables(_with_fid_ae(records, {"ann-vae": 8.0, "surrogate-vae-T8": 5.0}))
    assert mnist.agreement is None
    assert not [s for s in mnist.notes if "Rank agreement" in s or "†" in s]
    three = build_tables(_with_fid_ae(records, {k: _FID_AE[k] for k in list(_FID_AE)[1:]}))[0]
    assert three.agreement.n == 3 and three.agreement.moved == ()
    assert "(FID vs FID (AE), 3 rows): Spearman ρ = 1.00, Kendall τ = 1.00." in three.notes[-1]


def test_no_agreement_without_fid_ae(written):
    for name in ("summary.md", "summary.tex"):
        text = written[name].read_text(encoding="utf-8")
        assert "Rank agreement" not in text and "†" not in text and "dagger" not in text


# -- energy under several models, computed from the records' op counts (issue 21) --------------


def _energy_cell(table, label, key):
    i = next(i for i in table.rows.index if table.rows.at[i, "label"] == label)
    return table.means.at[i, key]


def test_energy_columns_per_model_from_the_op_counts(records):
    models = ("fp32-compute", "int8-compute", "memory-aware")
    mnist = build_tables(records, models)[0]
    keys = [s.key for s in mnist.columns]
    assert keys[keys.index(K.MACS) + 1:keys.index(K.MACS) + 7] == [
        K.energy_key("fp32-compute"), K.ratio_key("fp32-compute"),
        K.energy_key("int8-compute"), K.ratio_key("int8-compute"),
        K.energy_key("memory-aware"), K.ratio_key("memory-aware")]
    # ann-vae: 321,600 MACs: 1479.36 nJ in fp32, 73.968 nJ in int8; its own baseline
    assert _energy_cell(mnist, "ann-vae", K.energy_key("fp32-compute")) == "1479"
    assert _energy_cell(mnist, "ann-vae", K.energy_key("int8-compute")) == "74.0"
    assert _energy_cell(mnist, "ann-vae", K.ratio_key("int8-compute")) == "1.00"
    # the fixture records predate per-layer counts: "—", never 0
    for label in ("ann-vae", "surrogate-vae-T8"):
        assert _energy_cell(mnist, label, K.energy_key("memory-aware")) == tables.NOT_APPLICABLE
        assert _energy_cell(mnist, label, K.ratio_key("memory-aware")) == tables.NOT_APPLICABLE


def test_ratio_is_to_the_matched_ann_row_named_in_the_caption(records):
    """A VAE whose prior is learned is compared with the ANN VAE with a learned prior where the
    suite has one; the ratio under each model divides by that row's mean energy."""
    records = copy.deepcopy(records)
    extra = []
    for r in records:
        if r["adapter"]["label"] == "ann-vae" and r["dataset"]["name"] == "mnist":
            twin = copy.deepcopy(r)
            twin["adapter"].update(label="ann-vae-learned-prior", name="ann-vae-learned-prior")
            twin["op_counts"]["macs"] = 2 * r["op_counts"]["macs"]
            extra.append(twin)
        if r["adapter"]["label"] == "surrogate-vae-T8":
            r["adapter"]["config"]["prior"] = "learned"
    records += extra
    mnist = build_tables(records, ("int8-compute",))[0]
    assert mnist.baselines["surrogate-vae-T8"] == "ann-vae-learned-prior"
    assert mnist.baselines["surrogate-vae-T4"] == "ann-vae"  # its prior is the fixed one
    cells = F.cells(records, ("int8-compute",))
    t8 = cells[(cells["label"] == "surrogate-vae-T8") & (cells["dataset"] == "mnist")
               & (cells["status"] == "ok")]
    base = 2 * 321600 * 0.23 / 1000
    for _, cell in t8.iterrows():
        assert cell[K.ratio_key("int8-compute")] == pytest.approx(
            cell[K.energy_key("int8-compute")] / base, rel=1e-12)
    notes = " ".join(mnist.notes)
    assert "surrogate-vae-T8 vs ann-vae-learned-prior" in notes
    assert "surrogate-vae-T4 vs ann-vae" in notes and "re-measures them" in notes


def test_records_with_the_newer_counts_show_every_model(records, tmp_path):
    from tests.toynets import spiking_mlp

    records = copy.deepcopy(records)
    for r in records:
        if r["status"] == "ok" and r["adapter"]["label"] in ("ann-vae", "surrogate-vae-T4"):
            r["op_counts"] = spiking_mlp().to_dict()  # as JSON would give it back
    mnist = build_tables(records, ("memory-aware",))[0]
    # 759.5 pJ (tests/test_metrics_energy.py), i.e. 0.7595 nJ, stored just below: 0.759
    assert _energy_cell(mnist, "surrogate-vae-T4", K.energy_key("memory-aware")) == "0.759"
    assert _energy_cell(mnist, "surrogate-vae-T4", K.ratio_key("memory-aware")) == "1.00"
    assert _energy_cell(mnist, "surrogate-vae-T8", K.energy_key("memory-aware")) == \
        tables.NOT_APPLICABLE
    paths = {p.name: p for p in write_tables(records, tmp_path, ("memory-aware",))}
    assert "Energy/sample memory-aware (nJ) ↓" in paths["summary.md"].read_text(encoding="utf-8")


def test_an_unknown_energy_model_is_rejected_with_the_known_names(records):
    with pytest.raises(ValueError, match=r"unknown energy model 'fp16-compute'.*did you mean "
                                         r"'fp32-compute'.*known: \['fp32-compute', "
                                         r"'int8-compute', 'memory-aware'\]"):
        build_tables(records, ("fp16-compute",))


def _as_diffusion(record, adapter: str, backend: str, label: str, calls: float):
    r = copy.deepcopy(dict(record))
    r["adapter"] = {**r["adapter"], "name": adapter, "backend": backend, "family": "diffusion",
                    "label": label}
    r["cell_id"] = f"{label}__{r['dataset']['name']}__seed{r['seed']}"
    r["metrics"] = {**r["metrics"], K.DENOISER_CALLS: calls}
    return r


def test_diffusion_rows_bring_calls_and_energy_per_call_and_their_ann_twin(records):
    ann_vae = [r for r in records if r["adapter"]["label"] == "ann-vae" and r["status"] == "ok"]
    snn = [r for r in records if r["adapter"]["label"] == "surrogate-vae-T4"
           and r["status"] == "ok"]
    extra = ([_as_diffusion(r, "ann-ddpm", "ann", "ann-ddpm", 10.0) for r in ann_vae]
             + [_as_diffusion(r, "surrogate-ddpm", "surrogate", "surrogate-ddpm", 10.0)
                for r in snn])
    model = "fp32-compute"
    tables = build_tables(extra, energy_models=(model,))
    keys = [spec.key for spec in tables[0].columns]
    assert K.DENOISER_CALLS in keys and K.call_energy_key(model) in keys
    assert K.RECON_MSE not in keys  # no row of the table reconstructs
    row = next(r for _, r in tables[0].rows.iterrows() if r["label"] == "surrogate-ddpm")
    energy, per_call = F.value(row, K.energy_key(model)), F.value(row, K.call_energy_key(model))
    assert per_call == pytest.approx(energy / 10)
    assert tables[0].baselines["surrogate-ddpm"] == "ann-ddpm"
    # the same records without diffusion rows: no such column
    keys = [spec.key for spec in build_tables(ann_vae, energy_models=(model,))[0].columns]
    assert K.DENOISER_CALLS not in keys and K.call_energy_key(model) not in keys
