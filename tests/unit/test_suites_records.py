"""Suite files and records: strict parsing, atomic writes, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import records as rec
from benchmarks.plan import select_cells
from benchmarks.suites import available_suites, load_suite

GOOD = """
[suite]
name = "t"
datasets = ["mnist"]
seeds = [0, 1]
n_train = 100
n_eval = 50

[[entry]]
adapter = "ann-vae"
config = { epochs = 1 }

[[entry]]
label = "ann-gan-small"
adapter = "ann-gan"
seeds = [1]
"""


def _write(tmp_path, text):
    path = tmp_path / "s.toml"
    path.write_text(text)
    return path


def test_label_selects_its_entry_only(tmp_path):
    # "ann-vae" is both an entry's label and the adapter of "ann-vae-big": the label wins.
    text = GOOD + '\n[[entry]]\nlabel = "ann-vae-big"\nadapter = "ann-vae"\nconfig = { epochs = 2 }\n'
    suite = load_suite(_write(tmp_path, text))
    assert [c.entry.label for c in select_cells(suite, labels=["ann-vae"], seeds=[0])] == \
        ["ann-vae"]
    assert [c.entry.label for c in select_cells(suite, labels=["ann-vae-big", "ann-vae"],
                                                seeds=[0])] == ["ann-vae", "ann-vae-big"]


def test_shipped_suites_parse():
    assert {"smoke", "ci", "quick", "full"} <= set(available_suites())
    for name in available_suites():
        suite = load_suite(name)
        assert suite.name == name and suite.entries


def test_good_suite_and_cell_selection(tmp_path):
    suite = load_suite(_write(tmp_path, GOOD))
    assert [e.label for e in suite.entries] == ["ann-vae", "ann-gan-small"]
    cells = select_cells(suite)
    assert [c.cell_id for c in cells] == ["ann-vae__mnist__seed0", "ann-vae__mnist__seed1",
                                          "ann-gan-small__mnist__seed1"]
    assert [c.cell_id for c in select_cells(suite, labels=["ann-gan"])] == \
        ["ann-gan-small__mnist__seed1"]
    with pytest.raises(ValueError, match=r"no seed\(s\) \[7\]; allowed: \[0, 1\]"):
        select_cells(suite, seeds=[7])
    with pytest.raises(ValueError, match=r"does not cover dataset\(s\) \['fashion-mnist'\]"):
        select_cells(suite, datasets=["fashion-mnist"])
    with pytest.raises(ValueError, match=r"no entry or adapter \['nope'\]"):
        select_cells(suite, labels=["nope"])


@pytest.mark.parametrize("text, message", [
    (GOOD.replace("n_eval = 50", "n_evals = 50"), r"unknown key\(s\) \['n_evals'\] in \[suite\]"),
    (GOOD.replace('adapter = "ann-gan"', 'adapter = "ann-gam"'),
     r"unknown adapter 'ann-gam' \(did you mean 'ann-gan'\?\)"),
    (GOOD.replace('datasets = ["mnist"]', 'datasets = ["cifar10"]'),
     r"unknown dataset 'cifar10'; allowed: \['mnist', 'fashion-mnist'\]"),
    (GOOD.replace("seeds = [0, 1]", "seeds = [-1]"), "seeds must be a non-empty list"),
    (GOOD.replace('label = "ann-gan-small"', 'label = "ann-vae"'), "duplicate entry labels"),
    (GOOD.replace("[[entry]]\nadapter", "[[entry]]\ncolour = 1\nadapter", 1),
     r"unknown key\(s\) \['colour'\] in entry #1"),
    ("[suite\nname=", "not valid TOML"),
    # a suite's name is a folder under --results-dir, never a path out of it
    (GOOD.replace('name = "t"', 'name = "../x"'), r"name '\.\./x' must be a plain identifier"),
    (GOOD.replace('name = "t"', 'name = "/tmp/x"'), r"name '/tmp/x' must be a plain identifier"),
    # refused at load, before any cell trains (the energy model is in every config hash)
    (GOOD.replace("n_eval = 50", 'n_eval = 50\nenergy_model = "horowitz-7nm"'),
     r"energy_model: unknown energy model 'horowitz-7nm'.*known: \['horowitz-45nm'\]"),
    (GOOD.replace("epochs = 1", 'epochs = "ten"'), r"entry 'ann-vae':.*epochs.*'ten'"),
    (GOOD.replace("epochs = 1", "epochs = 1.5"), r"entry 'ann-vae':.*epochs.*1\.5"),
    (GOOD.replace("epochs = 1", "epochs = true"), r"entry 'ann-vae':.*epochs.*True"),
    (GOOD.replace("epochs = 1", "epochz = 1"), r"entry 'ann-vae':.*epochz.*epochs"),
])
def test_bad_suite_files_are_rejected_with_the_reason(tmp_path, text, message):
    with pytest.raises(ValueError, match=message):
        load_suite(_write(tmp_path, text))


def test_unknown_suite_name_lists_available():
    with pytest.raises(ValueError, match=r"unknown suite 'quik'; did you mean 'quick'\?"):
        load_suite("quik")


def test_atomic_write_leaves_no_partial_file(tmp_path, monkeypatch):
    path = tmp_path / "r.json"
    rec.write_json_atomic(path, {"a": 1})
    real_write = Path.write_bytes

    def half_then_interrupted(self, data):
        real_write(self, data[: len(data) // 2])
        raise KeyboardInterrupt

    monkeypatch.setattr(Path, "write_bytes", half_then_interrupted)
    with pytest.raises(KeyboardInterrupt):
        rec.write_json_atomic(path, {"a": 2})
    assert json.loads(path.read_text()) == {"a": 1}  # the old record survives whole
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]  # no temp file left


def test_non_finite_numbers_become_null(tmp_path):
    path = tmp_path / "r.json"
    rec.write_json_atomic(path, {"fid": float("nan"), "x": [float("inf"), 1.0]})
    assert json.loads(path.read_text()) == {"fid": None, "x": [None, 1.0]}


def test_read_record_names_the_file_and_problem(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"schema_version": 99}))
    with pytest.raises(ValueError, match=r"bad.json has schema_version 99"):
        rec.read_record(bad)
    bad.write_text(json.dumps({"schema_version": 1, "suite": "x"}))
    with pytest.raises(ValueError, match=r"bad.json lacks key\(s\) \['cell_id'"):
        rec.read_record(bad)
    bad.write_text("{")
    with pytest.raises(ValueError, match="not valid JSON"):
        rec.read_record(bad)


def test_load_records_reads_a_folder_in_name_order_and_checks_each(tmp_path):
    def record(cid, status="ok"):
        return {"schema_version": rec.SCHEMA_VERSION, "suite": "t", "cell_id": cid,
                "config_hash": "h", "adapter": {"label": "a", "name": "ann-vae", "backend": "ann",
                                                "family": "vae"},
                "dataset": {"name": "mnist"}, "seed": 0, "status": status,
                "error": None, "metrics": {}, "metric_config": {}, "op_counts": None, "fit": None,
                "timing": {}, "env": {}, "artifacts": {}}

    for cid in ("b__mnist__seed0", "a__mnist__seed0"):
        rec.write_record(tmp_path, record(cid))
    folder = tmp_path / "t" / "records"
    assert [r["cell_id"] for r in rec.load_records(folder)] == ["a__mnist__seed0",
                                                                 "b__mnist__seed0"]
    rec.write_json_atomic(folder / "c.json", record("c", status="done"))
    with pytest.raises(ValueError, match=r"c.json has status 'done'"):
        rec.load_records(folder)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        rec.load_records(tmp_path / "nowhere")
    (folder / "c.json").write_bytes(b'{"a": "\xff\xfe"}')
    with pytest.raises(ValueError, match=r"c.json is not UTF-8 text"):
        rec.load_records(folder)


def test_resume_and_tables_read_a_record_the_same_way(tmp_path):
    """A record the tables refuse (here: no family) is not taken as done by resume either."""
    from benchmarks.frame import load_records as table_records
    from benchmarks.plan import existing_record

    good = {"schema_version": rec.SCHEMA_VERSION, "suite": "t", "cell_id": "a__mnist__seed0",
            "config_hash": "h", "adapter": {"label": "a", "name": "ann-vae", "backend": "ann",
                                            "family": "vae"},
            "dataset": {"name": "mnist"}, "seed": 0, "status": "ok", "error": None,
            "metrics": {}, "metric_config": {}, "op_counts": None, "fit": None, "timing": {},
            "env": {}, "artifacts": {}}
    path = rec.write_record(tmp_path, good)
    assert existing_record(path, "h") is not None and len(table_records(path.parent)) == 1
    del good["adapter"]["family"]
    rec.write_json_atomic(path, good)
    assert existing_record(path, "h") is None  # re-run, so the record gets repaired
    with pytest.raises(ValueError, match="adapter.family must be a non-empty string"):
        table_records(path.parent)


def test_every_committed_record_loads():
    for folder in sorted(rec.DEFAULT_RESULTS.glob("**/records")):
        assert rec.load_records(folder), folder


def test_config_hash_is_order_independent_and_sensitive():
    a = rec.config_hash({"x": 1, "y": [1, 2]})
    assert a == rec.config_hash({"y": [1, 2], "x": 1})
    assert a != rec.config_hash({"x": 2, "y": [1, 2]})


def test_environment_names_the_cpu_model(monkeypatch, tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 9B14\n")
    real_open = open
    monkeypatch.setattr("builtins.open", lambda path, *a, **k: real_open(
        cpuinfo if path == "/proc/cpuinfo" else path, *a, **k))
    env = rec.environment(threads=1)
    assert env["cpu"] == "AMD EPYC 9B14" and env["threads"] == 1


def test_git_revision_is_dirty_for_code_changes_but_not_for_results(tmp_path):
    import subprocess

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "r.json").write_text("{}")
    (tmp_path / "code.py").write_text("x = 1\n")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init")
    clean = rec.git_revision(tmp_path)
    assert clean and not clean.endswith("+dirty")
    (tmp_path / "results" / "r.json").write_text('{"a": 1}')   # a refresh rewrites the reference
    (tmp_path / "new.py").write_text("")                        # untracked files do not count
    assert rec.git_revision(tmp_path) == clean
    (tmp_path / "code.py").write_text("x = 2\n")
    assert rec.git_revision(tmp_path) == clean + "+dirty"
