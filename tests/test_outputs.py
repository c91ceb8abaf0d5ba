"""Outputs never destroy inputs (issue 14): every output path is checked before any work, a failing
reporter writes nothing, and errors are one line with exit 2."""

from __future__ import annotations

import os

import pytest
from conftest import plugin_module


class BrokenReporter:
    """A third-party reporter that fails."""

    name = "broken"
    suffix = ".txt"

    def render(self, result, stream):
        raise RuntimeError("cannot render today")


@pytest.fixture
def qaudit_plugins():
    return {"broken-reporter": plugin_module("qaudit_broken_reporter", api="2",
                                             register_reporters=lambda register: register(BrokenReporter))}


def _one_error(result):
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.exit_code == 2, (result.exit_code, result.stderr, result.exception)
    assert lines and lines[-1].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr
    return lines[-1]


def _snapshot(folder):
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize("command", [
    ["evaluate", "{m}", "--json", "--output", "{m}"],
    ["leak", "{m}", "-a", "loss", "-f", "json", "--output", "{m}"],
    ["leak", "{m}", "-a", "loss", "-f", "json", "--report", "html={m}"],
    ["shots", "{m}", "--shots", "16", "-R", "1", "-f", "json", "--output", "{m}"],
    ["unlearn", "{m}", "--forget-class", "1", "--out", "{m}"],
    ["unlearn", "{m}", "--forget-class", "1", "--output", "{m}"],
    ["compare-unlearning", "{m}", "--forget-class", "1", "--methods", "ga", "--output", "{m}"],
    ["backends", "--describe", "exact", "--model", "{m}", "--output", "{m}"],
])
def test_an_output_equal_to_the_input_model_is_refused(cli_runner, tiny_model, command):
    model = tiny_model.path
    before = model.read_bytes()
    folder = _snapshot(model.parent)
    line = _one_error(cli_runner.invoke([c.format(m=model) for c in command]))
    assert "would be overwritten" in line
    assert model.read_bytes() == before and _snapshot(model.parent) == folder


def test_links_to_the_input_and_two_identical_outputs_are_refused(cli_runner, tiny_model, tmp_path):
    link = tmp_path / "link.json"
    os.symlink(tiny_model.path, link)
    line = _one_error(cli_runner.invoke(["evaluate", str(tiny_model.path), "--json", "--output", str(link)]))
    assert "would be overwritten" in line
    same = tmp_path / "r.json"
    line = _one_error(cli_runner.invoke(["unlearn", str(tiny_model.path), "--forget-class", "1", "--out", str(same),
                                         "--output", str(same)]))
    assert "same file" in line and not same.exists()


@pytest.mark.parametrize("target,needle", [
    ("{dir}", "is a directory"),
    ("/nonexistent/x.json", "does not exist"),
    ("/proc/version", "not"),
])
def test_bad_output_locations_fail_before_the_work(cli_runner, tiny_model, tmp_path, target, needle):
    folder = _snapshot(tiny_model.path.parent)
    line = _one_error(cli_runner.invoke(["leak", str(tiny_model.path), "-a", "loss", "-f", "json", "--output",
                                         target.format(dir=tmp_path)]))
    assert needle in line
    assert _snapshot(tiny_model.path.parent) == folder


def test_a_failing_reporter_writes_nothing(cli_runner, tiny_model, tmp_path):
    main, extra = tmp_path / "main.json", tmp_path / "extra.txt"
    line = _one_error(cli_runner.invoke(["leak", str(tiny_model.path), "-a", "loss", "-f", "json", "--output",
                                         str(main), "--report", f"broken={extra}"]))
    assert "failed in reporter 'broken'" in line and "no report was written" in line
    assert not main.exists() and not extra.exists()


def test_unknown_format_leaves_no_unlearned_model(cli_runner, tiny_model, tmp_path):
    out = tmp_path / "u.json"
    _one_error(cli_runner.invoke(["unlearn", str(tiny_model.path), "--forget-class", "1", "-f", "nope", "--out",
                                  str(out)]))
    assert not out.exists()


def test_out_dir_creates_at_most_one_level(cli_runner, tmp_path):
    deep = tmp_path / "a" / "b" / "c"
    line = _one_error(cli_runner.invoke(["demo", "--out-dir", str(deep)]))
    assert "--parents" in line and not (tmp_path / "a").exists()


def test_train_refuses_its_own_dataset_as_output(cli_runner, tmp_path):
    csv = tmp_path / "d.csv"
    csv.write_text("a,b,label\n" + "\n".join(f"{i},{i % 3},{i % 2}" for i in range(40)) + "\n")
    before = csv.read_bytes()
    line = _one_error(cli_runner.invoke(["train", "--dataset", str(csv), "--out", str(csv), "--force"]))
    assert "would be overwritten" in line and csv.read_bytes() == before
