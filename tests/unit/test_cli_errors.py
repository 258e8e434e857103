"""The CLI's error boundary: expected failures are one line and exit 2, never a traceback."""

from __future__ import annotations

import logging

import pytest

import benchmarks.__main__ as cli
from tests.fakes import TINY_ANN_VAE, tiny_suite


@pytest.fixture
def suite_file(tmp_path):
    path = tmp_path / "cli.toml"
    path.write_text(tiny_suite("cli", TINY_ANN_VAE))
    return path


def _errors(caplog):
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


def test_unwritable_results_dir_fails_before_training_naming_the_path(suite_file, tmp_path,
                                                                      caplog, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setattr("benchmarks.driver.run_suite",
                        lambda *a, **k: pytest.fail("a cell ran before the folder was checked"))
    with caplog.at_level(logging.ERROR):
        code = cli.main(["run", "--suite", str(suite_file), "--results-dir", str(blocker / "r"),
                         "--no-tables"])
    assert code == 2
    assert str(blocker) in _errors(caplog)[-1]


def test_sample_out_must_be_an_npz_file(suite_file, tmp_path, caplog):
    for out in (tmp_path / "samples.png", tmp_path):
        with caplog.at_level(logging.ERROR):
            code = cli.main(["sample", "--suite", str(suite_file), "--adapter", "ann-vae",
                             "--dataset", "mnist", "--seed", "0", "--out", str(out),
                             "--results-dir", str(tmp_path)])
        assert code == 2
        assert f"--out must name a .npz file, got {str(out)!r}" in _errors(caplog)[-1]


def test_missing_model_hint_keeps_the_results_dir(suite_file, tmp_path, capsys):
    with pytest.raises(SystemExit) as err:
        cli.main(["sample", "--suite", str(suite_file), "--adapter", "ann-vae", "--dataset",
                  "mnist", "--seed", "0", "--out", str(tmp_path / "s.npz"), "--results-dir",
                  str(tmp_path / "mine")])
    assert f"--results-dir {tmp_path / 'mine'}" in str(err.value)


def test_ctrl_c_is_one_line_and_exit_130(monkeypatch, caplog):
    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_cmd_list", interrupted)
    with caplog.at_level(logging.ERROR):
        assert cli.main(["list"]) == 130
    assert "interrupted" in _errors(caplog)[-1]
