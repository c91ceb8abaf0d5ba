"""Every option is validated before any work (issue 28): a typo in ``--fail-above`` or an empty name must not
cost a whole unlearning (or write its model), and every multiplier of work has a cap in :mod:`qaudit.sdk.limits`.

"Before any work" is checked, not timed: the expensive steps are replaced by ones that fail the test if
called, and no output file may appear.
"""

from __future__ import annotations

import pytest
from conftest import one_line_error

from qaudit.sdk import limits


@pytest.fixture
def no_work(monkeypatch):
    """Make training, unlearning and writing a model fail the test if anything reaches them."""
    from qaudit import unlearn as unlearning
    from qaudit.files import model_file as model_io
    from qaudit.train import workflows

    def forbidden(*args, **kwargs):
        raise AssertionError("work started before the options were validated")

    for module, name in ((unlearning, "apply_method"), (unlearning, "make_oracle"), (unlearning, "forget_quality"),
                         (model_io, "save"), (workflows, "train_model")):
        monkeypatch.setattr(module, name, forbidden)


def _refused(cli_runner, args, needle):
    res = cli_runner.invoke(args)
    assert res.exit_code == 2, (res.exit_code, res.stderr, res.exception)
    line = one_line_error(res.stderr)
    assert needle in line, line
    return line


@pytest.mark.parametrize("extra,needle", [
    (["--fail-above", "nosuch=1"], "--fail-above: unknown metric 'nosuch'"),
    (["--fail-above", "forget_mia_auc=abc"], "is not a number"),
    (["--method", ""], "--method is empty"),
    (["--method", "  "], "--method is empty"),
    (["--forget-quality", "1000"], f"--forget-quality must be an integer in 0..{limits.MAX_FORGET_QUALITY_MODELS}"),
    (["--forget-quality", "1"], "--forget-quality needs at least 2 models"),
    (["--forget-quality", "-3"], "--forget-quality must be an integer in 0.."),
    (["--audit", "ulira", "-K", "512"], f"-K/--shadow-pairs must be an integer in 8..{limits.MAX_SHADOW_PAIRS}"),
])
def test_unlearn_refuses_before_any_work(cli_runner, tiny_model, tmp_path, no_work, extra, needle):
    out = tmp_path / "u.json"
    _refused(cli_runner, ["unlearn", str(tiny_model.path), "--forget-class", "1", "--out", str(out), *extra], needle)
    assert not out.exists()


def test_the_library_call_refuses_a_bad_threshold_before_any_work(tiny_model, tmp_path, no_work):
    from qaudit import api
    from qaudit.sdk.errors import QauditError

    with pytest.raises(QauditError, match="unknown metric 'nosuch'"):
        api.unlearn(tiny_model.path, "ga", forget_class=[1], fail_above="nosuch=1", out=tmp_path / "u.json")
    with pytest.raises(QauditError, match="--method is empty"):
        api.unlearn(tiny_model.path, "", forget_class=[1])
    assert not (tmp_path / "u.json").exists()


@pytest.mark.parametrize("extra,needle", [
    (["--fail-above", "nosuch=1"], "unknown metric 'nosuch'"),
    (["--methods", "ga", "--seeds", ",".join(str(s) for s in range(limits.MAX_COMPARE_RUNS + 1))],
     f"at most {limits.MAX_COMPARE_RUNS} are allowed"),
    (["--methods", "ga", "--seeds", str(limits.MAX_SEED + 1)], "--seeds must be an integer in 0.."),
])
def test_compare_unlearning_refuses_before_any_work(cli_runner, tiny_model, no_work, extra, needle):
    _refused(cli_runner, ["compare-unlearning", str(tiny_model.path), "--forget-class", "1", *extra], needle)


@pytest.mark.parametrize("extra,needle", [(["--model", ""], "--model is empty"),
                                          (["--dataset", " "], "--dataset is empty")])
def test_train_refuses_an_empty_name(cli_runner, tmp_path, no_work, extra, needle):
    out = tmp_path / "m.json"
    _refused(cli_runner, ["train", "--out", str(out), *extra], needle)
    assert not out.exists()


def test_audit_dp_refuses_an_empty_model_name(cli_runner, no_work):
    _refused(cli_runner, ["audit-dp", "--model", ""], "--model is empty")


def test_work_multipliers_are_named_caps_in_limits():
    """The caps issue 28 added live in qaudit.sdk.limits, and U-LiRA uses that one."""
    from qaudit.unlearn import ulira

    assert ulira.MAX_PAIRS == limits.MAX_SHADOW_PAIRS
    assert 2 * limits.MAX_SHADOW_PAIRS <= limits.MAX_REFERENCE_MODELS  # the same training budget as -K of leak
    assert limits.MAX_FORGET_QUALITY_MODELS == limits.MAX_SHADOW_PAIRS


@pytest.mark.parametrize("args,needle", [
    (["leak", "{m}", "-a", "loss", "--backend", ""], "--backend is empty"),
    (["leak", "{m}", "-a", "loss", "--format", ""], "--format is empty"),
    (["evaluate", "{m}", "--backend", " "], "--backend is empty"),
    (["shots", "{m}", "--backend", "", "--shots", "16", "-R", "1"], "--backend is empty"),
    (["unlearn", "{m}", "--forget-class", "1", "--backend", "", "--out", "{out}"], "--backend is empty"),
])
def test_an_empty_backend_or_format_is_refused_not_the_default(cli_runner, tiny_model, tmp_path, no_work, args,
                                                                 needle):
    out = tmp_path / "u.json"
    _refused(cli_runner, [a.format(m=tiny_model.path, out=out) for a in args], needle)
    assert not out.exists()
