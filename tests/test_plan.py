"""The execution-plan seam (qaudit.sdk.protocols.ExecutionPlan, query.plan_query, leak --dry-run / --max-qpu-seconds)
with backends that have no plan of their own (simulators): nothing is submitted, no device time."""

from __future__ import annotations

import json

from qaudit.sdk.protocols import ExecutionPlan


def test_plans_add_counts_and_keep_the_worst_depth():
    a = ExecutionPlan("x", circuits=1, bindings=10, shots=100, units=1, jobs=1, depth=5, two_qubit_gates=3,
                      qpu_seconds=2.0, notes=["n"])
    b = ExecutionPlan("", circuits=2, bindings=4, shots=100, units=2, jobs=1, depth=9, two_qubit_gates=1,
                      qpu_seconds=None, mitigation="m", notes=["n", "k"])
    total = a.add(b)
    assert (total.backend, total.circuits, total.bindings, total.units, total.jobs) == ("x", 3, 14, 3, 2)
    assert (total.depth, total.two_qubit_gates, total.qpu_seconds, total.mitigation) == (9, 3, 2.0, "m")
    assert total.notes == ["n", "k"] and ExecutionPlan("y").add(ExecutionPlan("")).qpu_seconds is None


def test_dry_run_on_a_simulator_runs_nothing(cli_runner, tiny_model):
    result = cli_runner.invoke(["leak", str(tiny_model.path), "--shots", "64", "--attack", "loss", "--dry-run",
                                "--format", "json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["kind"] == "plan" and doc["schema"] == "qaudit.plan/1"
    n = len(tiny_model.file.data.members) + len(tiny_model.file.data.holdout)
    summary = doc["summary"]
    assert summary["bindings"] == n and summary["jobs"] == 0 and summary["qpu_seconds"] is None
    assert summary["backend"] == "sampled" and summary["shots"] == 64


def test_max_qpu_seconds_must_be_positive(cli_runner, tiny_model):
    result = cli_runner.invoke(["leak", str(tiny_model.path), "--attack", "loss", "--max-qpu-seconds", "0"])
    assert result.exit_code == 2 and "--max-qpu-seconds must be > 0" in result.stderr


def test_a_submission_beyond_the_plan_is_said_in_the_execution_table():
    from qaudit.leak.audit import _execution_table

    plan = ExecutionPlan("ibm-fake:X", circuits=1, bindings=10, shots=64).to_json()
    execution = {"plan": plan, "submitted": {**plan, "circuits": 2, "bindings": 13, "notes": []},
                 "backend": {"device": "X"}}
    assert "3 bindings submitted beyond the plan" in _execution_table(execution).note
    execution["submitted"] = {**plan, "notes": []}
    assert "beyond the plan" not in _execution_table(execution).note
