"""Options and resource limits: no silent coercion, no unbounded work.

Every reproducer must end in exit 2 with a single ``error: ...`` line, quickly (before any
expensive work). The caps live in :mod:`qaudit.sdk.limits`.
"""

from __future__ import annotations

import os

import pytest
from conftest import one_line_error

from qaudit.sdk import limits
from qaudit.sdk.errors import QauditError
from qaudit.sdk.limits import check_option, check_seed

#: Options are rejected before any training, so the defaults (8 qubits, 5 layers, 10 epochs) never run.
TRAIN = ["train", "--n-train", "50", "--n-holdout", "50", "--out", "{out}"]


def _expect_error(cli_runner, args: list[str], needle: str) -> str:
    res = cli_runner.invoke(args)
    assert res.exit_code == 2, (res.exit_code, res.stdout, res.stderr, res.exception)
    assert isinstance(res.exception, QauditError), res.exception
    line = one_line_error(res.stderr)
    assert needle in line, line
    return line


# ----------------------------------------------------------------------------- train
@pytest.mark.parametrize("extra, needle", [
    (["--qubits", "24"], f"qubits must be an integer in 1..{limits.MAX_QNN_QUBITS}, got 24"),
    (["--qubits", "17"], "qubits 17: model files hold at most 16 qubits"),
    (["--qubits", "17", "--epochs", "0"], "qubits 17: model files hold at most 16 qubits"),  # issue 28: no
    # model is written that qaudit would refuse to read
    (["--qubits", "0"], "qubits must be an integer in 1.."),
    (["--layers", "100000"], f"layers must be an integer in 1..{limits.MAX_LAYERS}"),
    (["--epochs", "1000000"], f"epochs must be an integer in 0..{limits.MAX_EPOCHS}"),
    (["--lr", "-1"], "lr must be a number in (0, "),
    (["--batch-size", "0"], "batch_size must be an integer in 1.."),
    (["--n-train", "1", "--n-holdout", "1"], "--n-train must be an integer >= 10"),
    (["--n-holdout", "1"], "--n-holdout must be an integer >= 4"),
    (["--seed", "-1"], "--seed must be an integer in 0.."),
    (["--seed", "99999999999999999999999"], "--seed must be an integer in 0.."),
    (["-O", "epochs=1.5"], "epochs must be an integer"),
    (["-O", "epochs=true"], "epochs must be an integer"),
    (["-O", "epochs=abc"], "epochs must be an integer"),
    (["-O", "lr=null"], "lr must be a number"),
    (["-O", "lr=\"0.1\""], "lr must be a number"),
    (["-O", "nesterov=1"], "nesterov must be true or false"),
    (["-O", "momentum=1.5"], "momentum must be a number in [0, 0.999]"),
    (["--model", "sisa", "-O", "shards=0"], "sisa: shards must be an integer in 1..256, got 0"),
    (["--model", "sisa", "-O", "shards=1.5"], "sisa: shards must be an integer"),
    (["--model", "sisa", "-O", "slice_epochs=0"], "sisa: slice_epochs must be an integer in 1.."),
    (["--model", "hqnn", "-O", "qubits=13"], f"hqnn: qubits must be an integer in 1..{limits.MAX_HQNN_QUBITS}"),
])
def test_train_rejects(cli_runner, tmp_path, extra, needle):
    out = str(tmp_path / "x.json")
    args = [a.format(out=out) for a in TRAIN]
    _expect_error(cli_runner, args + extra, needle)
    assert not os.path.exists(out)


# ----------------------------------------------------------------------------- leak
@pytest.mark.parametrize("extra, needle", [
    (["--bootstrap", "5"], "--bootstrap must lie in 10.."),
    (["-a", "lira", "-K", "100000"], f"--reference-models must be an integer in 2..{limits.MAX_REFERENCE_MODELS}"),
    (["-a", "lira", "-K", "3"], "even number"),
    (["-a", "loss", "--jobs", str((os.cpu_count() or 1) + 14)], f"--jobs must be an integer in 1..{os.cpu_count()}"),
    (["-a", "loss", "--seed", "-1"], "--seed must be an integer in 0..4294967295, got -1"),
    (["-a", "loss", "--seed", "99999999999999999999999"], "--seed must be an integer in 0..4294967295"),
    (["-a", "loss", "--shots", "-3"], "--shots must be an integer in 0.."),
    (["-a", "loss", "--shots", "100000000000"], "--shots must be an integer in 0..10000000"),
    (["-a", "gray-box", "-A", "gray-box.hidden=100000000"],
     f"attack gray-box: option hidden must be an integer in 1..{limits.MAX_HIDDEN}"),
    (["-a", "gray-box", "-A", "gray-box.hidden=0"], "option hidden must be an integer in 1.."),
    (["-a", "gray-box", "-A", "gray-box.epochs=0"], "option epochs must be an integer in 1.."),
    (["-a", "gray-box", "-A", "gray-box.lr=-1"], "option lr must be a number in (0, "),
    (["-a", "gray-box", "-A", "gray-box.validation=0.9"], "option validation must be a number in [0, 0.5]"),
    (["-a", "gray-box", "-A", "gray-box.lr=null"], "option lr must be a number"),
    (["-a", "gray-box", "-A", "gray-box.hidden=true"], "option hidden must be an integer"),
    (["-a", "gray-box", "-A", "gray-box.hidden=64.5"], "option hidden must be an integer"),
    (["-a", "shadow", "-A", "shadow.n_shadow=0"], "attack shadow: option n_shadow must be an integer in 1.."),
    (["-a", "rmia", "-A", "rmia.n_z=-1"], "attack rmia: option n_z must be an integer in 1.."),
    (["-a", "rmia", "-A", "rmia.offline=yes"], "attack rmia: option offline must be true or false"),
    (["-a", "lira", "-A", "lira.global_variance=1"], "global_variance must be auto, true or false"),
    (["-a", "loss", "-A", "loss.x=1"], "attack loss: unknown option(s) x"),
])
def test_leak_rejects(cli_runner, tiny_model, extra, needle):
    _expect_error(cli_runner, ["leak", str(tiny_model.path), *extra], needle)


# ----------------------------------------------------------------------------- shots
@pytest.mark.parametrize("extra, needle", [
    (["--shots", ",".join(str(i) for i in range(1, 2001))], f"at most {limits.MAX_SHOT_COUNTS} are allowed"),
    (["--repeats", "100000"], f"--repeats must be an integer in 1..{limits.MAX_REPEATS}"),
    (["--repeats", "0"], "--repeats must be an integer in 1.."),
    (["--seed", "-1"], "--seed must be an integer in 0..4294967295"),
    (["--seed", str(2**32 - 1), "--repeats", "2"], "repeat seeds"),
    (["--shots", "0,16"], "shot counts must be positive"),
])
def test_shots_rejects(cli_runner, tiny_model, extra, needle):
    _expect_error(cli_runner, ["shots", str(tiny_model.path), *extra], needle)


# ----------------------------------------------------------------------------- unlearn
@pytest.mark.parametrize("method, option, needle", [
    ("rga", "batch_size=-1", "'rga': option batch_size must be an integer in 1.."),  # used to hang
    ("rga", "max_steps=10000000", f"option max_steps must be an integer in 0..{limits.MAX_STEPS}"),
    ("ga", "lr=null", "'ga': option lr must be a number in (0, "),
    ("ga", "epochs=abc", "'ga': option epochs must be an integer"),
    ("ga", "batch_size=0", "option batch_size must be an integer in 1.."),
    ("ga", "lr=-1", "option lr must be a number in (0, "),
    ("ga", "steps=1.5", "option steps must be an integer"),
    ("ga", "steps=true", "option steps must be an integer"),
    ("ga", "steps=100000000", f"option steps must be an integer in 0..{limits.MAX_STEPS}"),
    ("ga", "nesterov=1", "option nesterov must be true or false"),
    ("ga", "target=2", "option target must be a number in [0, 1]"),
    ("ssd", "alpha=0", "'ssd': option alpha must be a number in (0, "),
    ("ssd", "fisher_samples=0", "option fisher_samples must be an integer in 1.."),
    ("ssd", "importance=magic", "option importance must be one of fisher, qfi"),
    ("finetune", "epochs=null", "'finetune': option epochs must be an integer in 0.."),
])
def test_unlearn_rejects(cli_runner, tiny_model, tmp_path, method, option, needle):
    out = tmp_path / "u.json"
    _expect_error(cli_runner, ["unlearn", str(tiny_model.path), "--forget-class", "2", "--method", method,
                               "-O", option, "--out", str(out)], needle)
    assert not out.exists()


# ----------------------------------------------------------------------------- the helper and the caps
@pytest.mark.parametrize("value, kind, low, high, ok", [
    (3, "int", 1, 5, True), (True, "int", 0, 5, False), (1.5, "int", 0, 5, False), (2.0, "int", 0, 5, False),
    ("3", "int", 0, 5, False), (None, "int", 0, 5, False), (6, "int", 0, 5, False),
    (1, "float", 0.0, 5.0, True), (float("nan"), "float", None, None, False), (float("inf"), "float", 0, None, False),
    (False, "float", None, None, False), ("0.1", "float", None, None, False),
    (True, "bool", None, None, True), (1, "bool", None, None, False), ("true", "bool", None, None, False),
])
def test_check_option(value, kind, low, high, ok):
    if ok:
        assert check_option("x", value, kind, low, high) == value
    else:
        with pytest.raises(QauditError, match=r"^x must be "):
            check_option("x", value, kind, low, high)


def test_check_option_open_bound_none_and_numpy():
    import numpy as np

    with pytest.raises(QauditError, match=r"in \(0, 1\]"):
        check_option("lr", 0.0, "float", 0.0, 1.0, low_open=True)
    assert check_option("lr", None, "float", 0.0, 1.0, allow_none=True) is None
    assert check_option("n", np.int64(3), "int", 0, 5) == 3 and type(check_option("n", np.int64(3), "int")) is int
    assert check_seed(0) == 0 and check_seed(2**32 - 1) == 2**32 - 1
    for bad in (-1, 2**32, 1.0, True):
        with pytest.raises(QauditError, match="seed must be an integer in 0..4294967295"):
            check_seed(bad)


def test_every_cap_is_documented():
    """Every cap in qaudit.sdk.limits is a named constant with a ``#:`` comment (the docs of the cap)."""
    import inspect

    lines = inspect.getsource(limits).splitlines()
    caps = [name for name in vars(limits) if name.startswith(("MAX_", "MIN_"))]
    assert len(caps) >= 15
    for name in caps:
        i = next(k for k, line in enumerate(lines) if line.startswith(f"{name} ="))
        while lines[i - 1].split(" ")[0].isupper():  # a group of caps shares one comment
            i -= 1
        assert lines[i - 1].startswith("#: "), f"{name} has no #: comment"
    assert limits.max_jobs() == (os.cpu_count() or 1)


def test_statevector_cap_bounds_memory():
    """The largest allowed basic QNN's per-sample state stays small: 2**16 amplitudes of 16 B = 1 MiB."""
    from qaudit_qnn.basic import BasicQNN

    from qaudit.train.classifier import CircuitClassifier

    assert CircuitClassifier.RANGES["qubits"] == (1, limits.MAX_QNN_QUBITS)  # wider than 16: evaluation only
    assert 16 * 2**limits.MAX_STATEVECTOR_QUBITS <= 1 << 20  # the largest *trainable* model
    BasicQNN.from_options({"qubits": limits.MAX_QNN_QUBITS})
    with pytest.raises(QauditError, match="qubits must be an integer in 1..20"):
        BasicQNN.from_options({"qubits": limits.MAX_QNN_QUBITS + 1})


def test_library_paths_reject_bad_training_settings():
    """run_epochs and SGD (the loops every model and method uses) refuse what would loop forever or diverge."""
    import numpy as np

    from qaudit.train.training import SGD, run_epochs

    with pytest.raises(QauditError, match="lr must be a number in"):
        SGD(lr=-0.1)
    with pytest.raises(QauditError, match="batch_size must be an integer in 1"):
        run_epochs({}, lambda X, y: (0.0, {}), np.zeros((4, 1)), np.zeros(4), 1, -1, SGD(lr=0.1),
                   np.random.default_rng(0))
