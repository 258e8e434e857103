"""Tables from the committed fixture records: aggregation, failures, bold, LaTeX, CSV, errors."""

from __future__ import annotations

import copy
import csv
import json
import math
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from benchmarks import tables
from benchmarks.metrics import keys as K
from benchmarks.tables import aggregate, build_tables, load_records, write_tables

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "records"


@pytest.fixture(scope="module")
def records():
    return load_records(FIXTURES)


@pytest.fixture(scope="module")
def rows(records):
    return {(r.dataset, r.label): r for r in aggregate(records)}


@pytest.fixture(scope="module")
def written(records, tmp_path_factory):
    out = tmp_path_factory.mktemp("tables")
    paths = write_tables(records, out)
    return {p.name: p for p in paths}


def test_loads_every_fixture(records):
    assert len(records) == len(list(FIXTURES.glob("*.json")))
    assert {r["status"] for r in records} == {"ok", "failed", "skipped"}


def test_mean_and_sample_std_by_hand(rows):
    ann = rows[("mnist", "ann-vae")]
    assert ann.status == "ok" and ann.n_ok == 3 and ann.seeds == (0, 1, 2)
    assert ann.stat(K.FID).mean == pytest.approx(12.0)
    assert ann.stat(K.FID).std == pytest.approx(2.0)  # ddof=1 of 10, 12, 14
    assert ann.stat(K.FID).n == 3
    snn = rows[("mnist", "surrogate-vae-T8")]
    assert snn.stat(K.FID).mean == pytest.approx(23.0)  # 20, 22, 27
    assert snn.stat(K.FID).std == pytest.approx(math.sqrt(13.0))
    assert snn.stat(K.PRECISION).mean == pytest.approx(0.82)
    assert snn.stat(K.PRECISION).std == pytest.approx(0.02)


def test_recon_of_a_gan_is_not_applicable(rows):
    gan = rows[("mnist", "surrogate-gan-T8")]
    assert gan.status == "ok"
    assert gan.stat(K.RECON_MSE).mean is None and gan.stat(K.RECON_MSE).n == 0
    assert gan.stat(K.FID).mean == pytest.approx(37.0)


def test_failed_group_is_a_failure_not_a_number(rows):
    conv = rows[("mnist", "conversion-vae-T32")]
    assert conv.status == "failed" and conv.n_ok == 0
    assert conv.stat(K.FID).mean is None
    assert conv.error.startswith("failed: RuntimeError: SNN Toolbox")
    stdp = rows[("fashion-mnist", "stdp-vae")]
    assert stdp.status == "skipped" and "spyker" in stdp.error


def test_failed_seed_stays_out_of_the_mean(rows):
    row = rows[("fashion-mnist", "surrogate-vae-T8")]
    assert row.status == "ok" and row.n_ok == 2 and row.seeds == (0, 1, 2)
    assert row.stat(K.FID).mean == pytest.approx(42.0)  # 40, 44; seed 2 failed
    assert row.stat(K.FID).n == 2
    assert [(f.seed, f.status) for f in row.failures] == [(2, "failed")]


def test_row_order_backend_then_label(records):
    order = [(r.dataset, r.label) for r in aggregate(records)]
    assert order == [
        ("mnist", "ann-vae"), ("mnist", "surrogate-gan-T8"), ("mnist", "surrogate-vae-T4"),
        ("mnist", "surrogate-vae-T8"), ("mnist", "conversion-vae-T32"),
        ("fashion-mnist", "ann-vae"), ("fashion-mnist", "surrogate-vae-T8"),
        ("fashion-mnist", "stdp-vae"),
    ]


def test_natural_label_order():
    labels = ["surrogate-vae-T16", "surrogate-vae-T4", "surrogate-vae-T8"]
    assert sorted(labels, key=tables._natural) == ["surrogate-vae-T4", "surrogate-vae-T8",
                                                  "surrogate-vae-T16"]


def test_duplicate_seed_is_an_error(records):
    twin = copy.deepcopy(next(r for r in records if r["cell_id"] == "ann-vae__mnist__seed0"))
    with pytest.raises(ValueError, match=r"seed\(s\) \[0\]"):
        aggregate([*records, twin])


def _column(spec, key):
    return [h[0] for h in spec.headers].index(K.spec(key).label)


def test_bold_follows_the_direction_in_keys(records):
    spec = build_tables(records)[0]
    assert spec.dataset == "mnist"
    labels = [r.label for r in spec.rows]

    def bold(key):
        i = _column(spec, key)
        return [labels[j] for j, cells in enumerate(spec.cells) if cells[i].bold]

    assert K.spec(K.FID).higher_is_better is False
    assert bold(K.FID) == ["ann-vae"]  # lowest FID
    assert K.spec(K.PRECISION).higher_is_better is True
    assert bold(K.PRECISION) == ["surrogate-vae-T8"]  # highest precision (0.82 > 0.75 > 0.72)
    assert bold(K.ENERGY_NJ) == ["surrogate-vae-T4"]
    assert bold(K.CLASSES_COVERED) == ["ann-vae", "surrogate-vae-T4"]  # a tie: both bold
    assert K.spec(K.TIMESTEPS).higher_is_better is None
    assert bold(K.TIMESTEPS) == []  # no direction, no bold
    assert bold(K.SPIKES) == []  # operation counts are not ranked


def test_bold_flips_when_the_direction_flips(records, monkeypatch):
    flipped = dict(K.METRICS)
    flipped[K.FID] = K.MetricSpec(K.FID, True, "FID")
    monkeypatch.setattr(K, "METRICS", flipped)
    spec = build_tables(records)[0]
    i = _column(spec, K.FID)
    assert [r.label for r, c in zip(spec.rows, spec.cells, strict=True) if c[i].bold] == [
        "surrogate-gan-T8"]


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
    assert "horowitz-45nm@1" in md and "Energy/sample (nJ)" in md
    assert "seed 2 failed (FloatingPointError" in md
    gan_line = next(line for line in md.splitlines() if line.startswith("| surrogate-gan-T8"))
    assert "—" in gan_line  # recon MSE not applicable
    conv_line = next(line for line in md.splitlines() if line.startswith("| conversion-vae-T32"))
    assert not re.search(r"\d+\.\d+ ±", conv_line)  # a failed cell is never a number
    widths = {len(re.split(r"(?<!\\)\|", line)) for line in md.splitlines()
              if line.startswith("|")}
    assert widths == {4 + len(tables.TABLE_COLUMNS) + 2}  # same cell count on every table line


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
    assert r"\textbf{12.00} $\pm$ 2.00" in tex
    assert r"\caption{" in tex and "classifier-cnn-v1{[}mnist{]}" in tex
    for block in re.findall(r"\\begin\{tabular\}\{(\w+)\}(.*?)\\end\{tabular\}", tex, re.S):
        spec, content = block
        ncols = len(spec)
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
    # \midrule between backend groups: ann | surrogate | conversion on mnist
    mnist = tex.split(r"\end{table}")[0]
    assert mnist.count(r"\midrule") == 3
    for title in ("ANN baselines (non-spiking)", "Surrogate-gradient SNNs (snntorch)",
                  "ANN-to-SNN conversion (SNN Toolbox)"):
        assert rf"\multicolumn{{15}}{{l}}{{\emph{{{title}}}}} \\" in mnist
    # names over a second header row of units and directions; "per sample" said in the caption
    assert "& Spikes & SynOps & MACs & Energy &" in mnist
    assert r"& (nJ) $\downarrow$ &" in mnist and "per generated sample" in mnist
    assert r"\multicolumn{13}{l}{\emph{failed: RuntimeError" in mnist


def test_std_is_shown_in_the_means_units_and_decimals():
    assert tables._like("2.01k", 14.8) == "0.01k"
    assert tables._like("0.776", 0.00684) == "0.007"
    assert tables._like("1262", 8.6) == "9"
    assert tables._like("4.56M", 140e3) == "0.14M"


def test_tex_escape():
    assert tables.tex_escape("a_b & 5% $x #1 {y} ~ ^") == (
        r"a\_b \& 5\% \$x \#1 \{y\} \textasciitilde{} \textasciicircum{}")
    assert tables.tex_escape("µJ × ±") == r"$\mu$J $\times$ $\pm$"
    assert tables.tex_escape("é[x]\\") == r"e{[}x{]}\textbackslash{}"
    assert tables.tex_escape("≈").isascii()


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex not installed")
def test_latex_compiles(written, tmp_path):
    doc = tmp_path / "doc.tex"
    doc.write_text("\\documentclass{article}\n\\usepackage{booktabs}\n\\begin{document}\n"
                   f"\\input{{{written['summary.tex'].as_posix()}}}\n\\end{{document}}\n")
    proc = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", doc.name],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:]


def test_csv_round_trips(written, records):
    with written["summary.csv"].open(newline="", encoding="utf-8") as fh:
        lines = list(csv.DictReader(fh))
    rows = aggregate(records)
    assert [(d["dataset"], d["label"]) for d in lines] == [(r.dataset, r.label) for r in rows]
    for line, row in zip(lines, rows, strict=True):
        assert line["status"] == row.status and int(line["n_ok"]) == row.n_ok
        for key, st in row.metrics.items():
            assert (float(line[f"{key}_mean"]) if line[f"{key}_mean"] else None) == st.mean
            assert (float(line[f"{key}_std"]) if line[f"{key}_std"] else None) == st.std
            assert int(line[f"{key}_n"]) == st.n
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
