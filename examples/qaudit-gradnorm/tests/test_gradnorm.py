"""Tests of the example plugin, written with qaudit.sdk.testing's fixtures and conformance checks."""

from __future__ import annotations

import csv
import io
import json
import math

import numpy as np
import pytest
from qaudit_gradnorm import CSVReporter, GradNormAttack

from qaudit.sdk.testing import check_reporter, parametrize_with_checks, sample_report


@parametrize_with_checks([GradNormAttack, CSVReporter])
def test_conformance(check):
    """One test per conformance check of each class: test_conformance[GradNormAttack-fit_returns_self], ..."""
    check()


def test_scores_are_minus_gradient_norms_computed_one_sample_at_a_time(tiny_model):
    context, X, y, _ = tiny_model.attack_split()
    scores = GradNormAttack().fit(context).score(context, X[:5], y[:5])
    # independent path: loss_and_grad on a one-sample batch (not the per-sample gradient code)
    for i in range(5):
        _, grad = tiny_model.model.loss_and_grad(X[i : i + 1], y[i : i + 1])
        norm = math.sqrt(sum(float(np.sum(g**2)) for g in grad.values()))
        assert scores[i] == pytest.approx(-norm, rel=1e-9)


def test_reporter_conforms_and_writes_the_measurements():
    report = sample_report()
    rows = list(csv.DictReader(io.StringIO(check_reporter(CSVReporter, report))))
    assert {(r["subject"], r["metric"]): float(r["value"]) for r in rows} == {
        (s, m): v for s, metrics in report.measurements.items() for m, v in metrics.items()}


def test_reporter_leaves_non_finite_values_empty():
    report = sample_report()
    report.measurements = {"loss": {"auc": float("nan"), "advantage": None}}
    out = io.StringIO()
    CSVReporter().render(report, out)
    assert out.getvalue().splitlines() == ["subject,metric,value", "loss,advantage,", "loss,auc,"]


def test_qaudit_lists_the_plugin(cli_runner):
    result = cli_runner.invoke(["plugins", "--json"])
    assert result.exit_code == 0, result.stderr
    rows = {row["name"]: row for row in json.loads(result.stdout)["plugins"]}
    assert rows["gradnorm"]["status"] == "ok"
    assert rows["gradnorm"]["registers"] == {"attack": ["grad-norm"], "reporter": ["csv"]}


def test_qaudit_leak_runs_the_attack(cli_runner, tiny_model, qaudit_host):
    result = cli_runner.invoke(["leak", str(tiny_model.path), "--attack", "grad-norm", "--format", "csv"])
    assert result.exit_code in (0, 1), result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert any(r["subject"] == "grad-norm" and r["metric"] == "auc" for r in rows), result.stdout
