"""The CLI spine: train / evaluate / plugins / datasets, start-up time, and the digits accuracy floor."""

from __future__ import annotations

import json
import resource
import subprocess
import sys

import numpy as np
import pytest
from conftest import one_line_error

STARTUP_PROBE = """
import sys, time
start = time.perf_counter()
sys.argv = ["qaudit", *sys.argv[1:]]
from qaudit.cli.app import main
try:
    main()
except SystemExit:
    pass
heavy = sorted(m for m in ("cirq", "sympy", "sklearn", "scipy", "scipy.stats", "qsimcirq", "pennylane", "qiskit",
                              "torch", "dp_accounting", "dask", "distributed", "matplotlib") if m in sys.modules)
print("PROBE", time.perf_counter() - start, ",".join(heavy), file=sys.stderr)
"""


@pytest.mark.parametrize("args", [["--help"], ["plugins"], ["plugins", "--json"], ["datasets"], ["audit-dp", "--help"],
                                  ["executors"]])
def test_startup_is_fast_and_imports_no_cirq(args):
    """`qaudit --help` / `qaudit plugins` under 1 s: asserted on the child's CPU time (user + sys),
    which other work on the shared cores does not inflate the way it inflates wall-clock time."""
    cpu = []
    for _ in range(3):  # best of three
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        proc = subprocess.run([sys.executable, "-c", STARTUP_PROBE, *args], capture_output=True, text=True,
                              timeout=60)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))
        assert proc.returncode == 0, proc.stderr
        probe = [line for line in proc.stderr.splitlines() if line.startswith("PROBE")][-1].split(" ")
        heavy = probe[2] if len(probe) > 2 else ""
        assert heavy == "", f"`qaudit {' '.join(args)}` imported {heavy}"
        if cpu[-1] < 1.0:
            break
    assert min(cpu) < 1.0, f"`qaudit {' '.join(args)}` used {min(cpu):.2f} s of CPU"


@pytest.mark.parametrize("attacks", [["--attack", "loss"], []])
def test_leak_on_the_exact_backend_imports_no_cirq(digits_model_file, tmp_path, attacks):
    """Issue 19: built-in models describe their circuit in the engine's gate list, so an exact audit never
    imports Cirq or sympy (their circuit is built only when a Cirq backend, an export or --describe reads it).
    With the default attacks it imports neither scikit-learn nor scipy.stats either (numpy ROC/AUC/Mann-Whitney
    and attack MLP): together about 1 s of a 1.5 s budget."""
    proc = subprocess.run([sys.executable, "-c", STARTUP_PROBE, "leak", str(digits_model_file), *attacks,
                           "-f", "json", "-o", str(tmp_path / "r.json")], capture_output=True, text=True, timeout=300)
    assert proc.returncode in (0, 1), proc.stderr
    heavy = set(",".join([line for line in proc.stderr.splitlines() if line.startswith("PROBE")][-1]
                         .split(" ")[2:]).split(","))
    assert not {"cirq", "sympy", "sklearn", "scipy.stats"} & heavy, heavy


def test_deferred_circuit_equals_the_engine_program():
    """The lazily built cirq.Circuit compiles to the same program the gate list gives (to 1e-12)."""
    from qaudit_qnn.basic import BasicQNN

    from qaudit.engine import forward
    from qaudit.engine.program import Program

    rng = np.random.default_rng(0)
    X, y = rng.random((30, 16)), np.arange(30) % 3
    model = BasicQNN(qubits=4, layers=3).initialise(X, y)
    c = model.compiled
    task = model.task(X)
    assert "cirq" not in type(task.__dict__["_circuit"]).__module__ and task.n_qubits == 4
    from_cirq = Program.from_circuit(task.circuit, task.qubits, c.program.param_names)
    Z = model.transform(X).astype(np.complex128)
    a, _ = forward(c.program, model.weights["theta"], c.observables, states=Z)
    b, _ = forward(from_cirq, model.weights["theta"], c.observables, states=Z)
    np.testing.assert_allclose(a, b, atol=1e-12)


def test_train_evaluate_round_trip(tmp_path, run_qaudit):
    out = tmp_path / "m.json"
    code, stdout, err = run_qaudit(["train", "--dataset", "digits", "--qubits", "6", "--layers", "2", "--epochs", "3",
                                    "--n-train", "300", "--n-holdout", "150", "--seed", "5", "--out", str(out)])
    assert code == 0, err
    assert "trained" in err and "holdout accuracy" in err
    doc = json.loads(out.read_text())
    assert doc["kind"] == "basic-qnn" and doc["config"]["layers"] == 2 and doc["data"]["seed"] == 5
    assert len(doc["data"]["members"]) == 300 and len(doc["data"]["holdout"]) == 150
    assert "qaudit train" in doc["provenance"]["command"]
    code, stdout, err = run_qaudit(["evaluate", str(out), "--json"])
    assert code == 0, err
    report = json.loads(stdout)
    assert report["schema"] == "qaudit.evaluation/1"
    # independent check of the reported accuracy: predict with the loaded model
    from qaudit.files import model_file as model_io
    from qaudit.files.data import load_dataset

    mf = model_io.load(out)
    ds = load_dataset("digits")
    for name, idx in (("members", mf.data.members), ("holdout", mf.data.holdout)):
        acc = float(np.mean(mf.model.predict(ds.X[idx]) == ds.y[idx]))
        assert abs(report["splits"][name]["accuracy"] - acc) < 1e-12
        assert sum(v["n"] for v in report["splits"][name]["per_class"].values()) == len(idx)
    code, stdout, _ = run_qaudit(["evaluate", str(out)])
    assert code == 0 and "holdout" in stdout
    report_file = tmp_path / "report.json"
    code, stdout, _ = run_qaudit(["evaluate", str(out), "--json", "--output", str(report_file)])
    assert code == 0 and json.loads(report_file.read_text())["splits"] == report["splits"]


def test_exclude_class_retrain_oracle(tmp_path, run_qaudit):
    out = tmp_path / "oracle.json"
    code, _, err = run_qaudit(["train", "--qubits", "6", "--layers", "1", "--epochs", "1", "--n-train", "200",
                               "--n-holdout", "100", "--exclude-class", "4", "--out", str(out)])
    assert code == 0, err
    from qaudit.files import model_file as model_io
    from qaudit.files.data import load_dataset

    mf = model_io.load(out)
    ds = load_dataset("digits")
    assert not np.any(ds.y[mf.data.members] == 4)
    assert mf.data.excluded["classes"] == [4] and len(mf.data.excluded["indices"]) > 0


def test_listing_commands(run_qaudit):
    code, stdout, _ = run_qaudit(["datasets", "--json"])
    assert code == 0
    names = {item["name"] for item in json.loads(stdout)["items"]}
    assert {"digits", "mnist", "csv", "npz"} <= names
    code, stdout, _ = run_qaudit(["models", "--json"])
    assert code == 0 and "basic-qnn" in {item["name"] for item in json.loads(stdout)["items"]}
    code, stdout, _ = run_qaudit(["plugins"])
    assert code == 0 and "qnn" in stdout and "datasets" in stdout


def test_usage_errors_exit_2(tmp_path, run_qaudit):
    cases = [
        (["train", "--dataset", "mnist", "--data-dir", str(tmp_path / "nowhere"), "--out", str(tmp_path / "m.json")],
         "does not exist"),
        (["train", "--option", "nonsense", "--out", str(tmp_path / "m.json")], "KEY=VALUE"),
        (["train", "--option", "colour=3", "--epochs", "1", "--out", str(tmp_path / "m.json")], "unknown option"),
        (["train", "--n-train", "5000", "--out", str(tmp_path / "m.json")], "exceeds"),
        (["train", "--exclude-class", "12", "--out", str(tmp_path / "m.json")], "do not exist"),
    ]
    for args, fragment in cases:
        code, _, err = run_qaudit(args)
        assert code == 2, (args, err)
        assert fragment in one_line_error(err), (args, err)
    assert list(tmp_path.iterdir()) == []


def test_demo_settings_reach_80_percent_on_digits():
    """Issue 3 floor: the 6-qubit basic QNN with the demo's settings, >= 80 % holdout accuracy."""
    from qaudit_paper.demo import DEMO_MODEL, DEMO_OPTIONS

    from qaudit.files.data import load_dataset
    from qaudit.train.workflows import evaluate_model, train_model

    ds = load_dataset("digits")
    mf = train_model(DEMO_MODEL, ds, n_train=1000, n_holdout=500, seed=0, options=DEMO_OPTIONS)
    assert DEMO_OPTIONS["qubits"] == 6
    accuracy = evaluate_model(mf, ds).splits["holdout"]["accuracy"]
    assert accuracy >= 0.80, f"holdout accuracy {accuracy:.3f}"
