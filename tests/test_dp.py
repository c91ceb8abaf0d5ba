"""DP-SGD (`qaudit train --dp`), its accountant, and `qaudit audit-dp` (one-run audits)."""

from __future__ import annotations

import json
import sys
import time

import numpy as np
import pytest
from conftest import one_line_error

pytest.importorskip("dp_accounting", reason="DP tests need the dp extra: pip install 'qaudit[dp]'")

from qaudit.dp import accounting  # noqa: E402
from qaudit.dp.sgd import clipped_sum, private_fit  # noqa: E402
from qaudit.dp.spec import DPSpec  # noqa: E402

#: A small basic QNN that memorises mislabelled canaries within a couple of seconds (measured: the
#: loss attack's bound is 0.6-1.2 without DP on seeds 0-2).
AUDIT_OPTIONS = {"epochs": 60, "qubits": 6, "layers": 10}
AUDIT = {"canaries": 200, "n_train": 50, "n_holdout": 200, "options": AUDIT_OPTIONS}


# ----------------------------------------------------------------------------- accountant
def test_calibrated_noise_meets_the_target_and_is_tight():
    sigma = accounting.noise_multiplier(2.0, 0.03, 300, 1e-5)
    assert accounting.epsilon(sigma, 0.03, 300, 1e-5) <= 2.0
    assert accounting.epsilon(sigma * 0.98, 0.03, 300, 1e-5) > 2.0  # 2 % less noise breaks the target
    assert accounting.epsilon(2 * sigma, 0.03, 300, 1e-5) < accounting.epsilon(sigma, 0.03, 600, 1e-5)


def test_spec_parsing():
    spec = DPSpec.parse("epsilon=2,delta=1e-6,clip=0.5")
    assert (spec.epsilon, spec.delta, spec.clip, spec.noise_multiplier) == (2.0, 1e-6, 0.5, None)
    assert DPSpec.parse("noise_multiplier=1.1").delta == 1e-5


# ----------------------------------------------------------------------------- DP-SGD mechanics
class _Linear:
    """A fake model with one weight vector whose per-sample gradients the test controls."""

    name = "fake"

    def __init__(self, grads: np.ndarray, lr: float = 1.0):
        self.grads, self.lr, self.weights = grads, lr, {}

    def get_params(self):
        return {"epochs": 1, "lr": self.lr, "batch_size": 50, "momentum": 0.0, "nesterov": False}

    def initialise(self, X, y, n_classes=None):
        self.weights = {"w": np.zeros(self.grads.shape[1])}
        return self

    def per_sample_grads(self, X, y):
        return {"w": self.grads[np.asarray(X[:, 0], dtype=int)]}


def test_clipping_bounds_each_samples_whole_gradient():
    grads = {"a": np.array([[3.0, 4.0], [0.3, 0.4]]), "b": np.array([[0.0], [0.0]])}
    total = clipped_sum(grads, 1.0)
    assert np.allclose(total["a"], [0.6 + 0.3, 0.8 + 0.4])  # (3,4) scaled to norm 1; (0.3,0.4) untouched


def test_noise_has_the_accounted_scale():
    """Zero gradients: every coordinate of the update is N(0, (sigma * clip)^2) / (q n) per step. A
    DP-SGD that forgot the noise, or scaled it by the batch instead of the clip norm, fails here."""
    n, d = 200, 4000
    model = _Linear(np.zeros((n, d)))
    X = np.arange(n, dtype=float)[:, None]
    record = private_fit(model, X, np.zeros(n, int), n_classes=2,
                         spec=DPSpec(noise_multiplier=2.0, clip=0.5), seed=1)
    assert record.steps == 4 and record.sampling_rate == 0.25
    expected = np.sqrt(record.steps) * 2.0 * 0.5 / (0.25 * n)  # lr 1, steps independent
    assert np.std(model.weights["w"]) == pytest.approx(expected, rel=0.05)


def test_huge_gradients_move_the_weights_by_at_most_clip_per_sample():
    n, d = 200, 3
    model = _Linear(np.full((n, d), 1e6))
    X = np.arange(n, dtype=float)[:, None]
    record = private_fit(model, X, np.zeros(n, int), n_classes=2,
                         spec=DPSpec(noise_multiplier=1e-6, clip=1.0), seed=0)
    # each step: at most n sampled gradients of norm 1, divided by q n = 50
    assert np.linalg.norm(model.weights["w"]) <= record.steps * n * 1.0 / 50 + 1e-3


# ----------------------------------------------------------------------------- the CLI
def test_train_dp_records_the_claim_and_unlearning_still_works(run_qaudit, tmp_path):
    out = tmp_path / "dp.json"
    code, _, err = run_qaudit(["train", "--dp", "epsilon=4,delta=1e-5,clip=1.0", "--qubits", "6", "--layers", "2",
                               "--epochs", "2", "--n-train", "300", "--n-holdout", "100", "--out", str(out)])
    assert code == 0, err
    dp = json.loads(out.read_text())["training"]["dp"]
    assert dp["epsilon"] <= 4.0 and dp["epsilon"] > 3.9
    assert dp["accountant"] == "rdp" and dp["sampling"] == "poisson" and dp["clip"] == 1.0
    assert dp["sampling_rate"] == pytest.approx(32 / 300) and dp["steps"] == 19 and dp["noise_multiplier"] > 0
    assert dp["epsilon"] == pytest.approx(accounting.epsilon(dp["noise_multiplier"], dp["sampling_rate"],
                                                             dp["steps"], 1e-5), abs=1e-5)
    from qaudit.sdk.host import get_host

    for role in ("default", "oracle"):  # the default unlearning method and the retrain oracle
        method = get_host().role("unlearning", role)
        code, _, err = run_qaudit(["unlearn", str(out), "--method", method, "--forget-class", "3",
                                   "--no-forget-gate", "-f", "json", "-o", str(tmp_path / f"{method}.json")])
        assert code == 0, err


@pytest.mark.parametrize("args, needle", [
    (["train", "--dp", "epsilon=0"], "--dp epsilon must be a number in (0, 1000]"),
    (["train", "--dp", "epsilon=-1"], "--dp epsilon"),
    (["train", "--dp", "epsilon=1,delta=0"], "--dp delta"),
    (["train", "--dp", "epsilon=1,delta=1"], "--dp delta must lie in (0, 1)"),
    (["train", "--dp", "epsilon=1,clip=0"], "--dp clip"),
    (["train", "--dp", "epsilon=1,clip=-2"], "--dp clip"),
    (["train", "--dp", "epsilon=1,noise_multiplier=1"], "exactly one of"),
    (["train", "--dp", "epsilon=abc"], "--dp epsilon must be a number"),
    (["train", "--dp", "eps=1"], "--dp expects KEY=VALUE"),
    (["train", "--model", "sisa", "--dp", "epsilon=1"], "model kind 'sisa' cannot be trained with --dp"),
    (["audit-dp", "--model", "sisa", "--dp", "epsilon=1", "--canaries", "20"], "model kind 'sisa'"),
    (["audit-dp", "--canaries", "1790"], "more than the data allows"),
    (["audit-dp", "--canaries", "500", "--n-train", "1000", "--n-holdout", "400"], "more than the data allows"),
    (["audit-dp", "--canaries", "1"], "--canaries must be an integer"),
    (["audit-dp", "--canaries", "20", "--guesses", "11"], "--guesses"),
    (["audit-dp", "--confidence", "1.0"], "--confidence"),
    (["audit-dp", "--dp", "epsilon=0"], "--dp epsilon"),
])
def test_bad_dp_input_is_one_line_exit_2(run_qaudit, tmp_path, args, needle):
    code, _, err = run_qaudit([*args, *(["--out", str(tmp_path / "m.json")] if args[0] == "train" else [])])
    assert code == 2, err
    assert needle in one_line_error(err)
    assert not (tmp_path / "m.json").exists()


def test_missing_extra_names_the_install_command(run_qaudit, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "dp_accounting", None)  # import fails as when it is not installed
    code, _, err = run_qaudit(["train", "--dp", "epsilon=2", "--out", str(tmp_path / "m.json")])
    assert code == 2
    assert 'pip install "qaudit[dp]"' in one_line_error(err)


@pytest.mark.slow  # a CPU-time ratio: a benchmark's claim, not for the default run on a shared machine
def test_dp_training_costs_at_most_three_times_plain_training():
    """The floor, on CPU time (other work on the shared cores does not inflate it): the digits basic QNN in
    its default training (8 qubits, 5 layers, 10 epochs) with DP at epsilon = 8, noise calibration included.
    (With 3 epochs the fixed calibration cost, ~0.2 s, weighs as much as the training it calibrates.)"""
    from qaudit.files.data import load_dataset, split
    from qaudit.sdk.host import get_host

    ds = load_dataset("digits")
    members, _ = split(ds.y, None, None, 0)
    cls = get_host().get("model", "basic-qnn")
    X, y = ds.X[members], ds.y[members]

    def cpu(dp: bool) -> float:
        model = cls.from_options({"seed": 0})
        start = time.process_time()
        if dp:
            private_fit(model, X, y, n_classes=10, spec=DPSpec(epsilon=8.0), seed=0)
        else:
            model.fit(X, y, n_classes=10)
        return time.process_time() - start

    plain, private = min(cpu(False) for _ in range(2)), min(cpu(True) for _ in range(2))
    assert private <= 3 * plain, (private, plain)


# ----------------------------------------------------------------------------- one-run audits
@pytest.fixture(scope="module")
def audits():
    """Three DP (epsilon = 2) audits and one non-DP audit of the same memorising setting; the non-DP one
    then forgets its included canaries with the retrain oracle and is audited again."""
    from qaudit.dp.audit import DPAuditSettings, run_dp_audit
    from qaudit.files.data import load_dataset
    from qaudit.sdk.host import get_host

    ds = load_dataset("digits")

    def run(seed, dp, **extra):
        return run_dp_audit(DPAuditSettings(model="basic-qnn", attacks=["loss"], seed=seed, dp=dp, **AUDIT, **extra),
                            ds)

    oracle = get_host().role("unlearning", "oracle")
    return {"dp": [run(seed, DPSpec(epsilon=2.0)) for seed in (0, 1, 2)], "plain": run(0, None, unlearn=oracle),
            "run": run}


def test_dp_audits_stay_below_the_claim_and_memorisation_is_caught(audits):
    for report in audits["dp"]:
        claimed, audited = report.summary["claimed_epsilon"], report.summary["audited_epsilon"]
        assert claimed <= 2.0 and audited <= claimed
        assert report.status == "pass" and not report.failed
    plain = audits["plain"].summary["audited_epsilon"]
    assert plain > 0.3, plain  # the non-DP model memorises its canaries: a clearly positive 95 % bound
    assert plain > max(r.summary["audited_epsilon"] for r in audits["dp"])
    assert audits["plain"].summary["claimed_epsilon"] is None and not audits["plain"].findings


def test_an_accountant_that_overclaims_is_a_finding(audits, monkeypatch):
    """Near-noise-free DP-SGD whose accountant (broken on purpose) claims epsilon 0.05: the audit must
    contradict it (exit 1 in the CLI)."""
    monkeypatch.setattr(accounting, "epsilon", lambda *a, **k: 0.05)
    report = audits["run"](0, DPSpec(noise_multiplier=1e-4, clip=100.0))
    assert report.summary["claimed_epsilon"] == 0.05
    assert report.failed and report.verdict.startswith("FAIL")
    assert report.summary["audited_epsilon"] > 0.05


def test_every_format_states_claimed_and_audited(audits, tmp_path):
    from qaudit.report.render import render_all
    from qaudit.sdk.host import get_host

    # every report format qaudit ships (a third-party reporter, e.g. the example plugin's csv, may show less)
    formats = sorted(name for name, entry in get_host().registry("reporter").items() if entry.plugin == "reporters")
    assert len(formats) >= 6
    for fmt in formats:
        path = tmp_path / f"report.{fmt}"
        render_all(audits["dp"][0], [(fmt, path)])
        text = path.read_text()
        if text.lstrip().startswith("{"):  # JSON formats escape non-ASCII characters
            text = json.dumps(json.loads(text), ensure_ascii=False)
        assert "claimed ε = " in text and "audited ε ≥ " in text and "(95 %)" in text, fmt


def test_cli_audit_dp_exit_codes(run_qaudit, tmp_path, monkeypatch):
    args = ["audit-dp", "--canaries", "40", "--n-train", "50", "--n-holdout", "50", "-O", "epochs=2", "-O",
            "qubits=4", "-O", "layers=1", "-a", "loss", "--dp", "epsilon=4", "-f", "json", "-o",
            str(tmp_path / "a.json")]
    code, _, err = run_qaudit(args)
    assert code == 0, err
    doc = json.loads((tmp_path / "a.json").read_text())
    assert doc["schema"] == "qaudit.leak.audit-dp/1" and doc["audit_dp"]["canaries"]["seed"] == 0
    assert len(doc["audit_dp"]["canaries"]["included"]) == 40
    monkeypatch.setattr(accounting, "epsilon", lambda *a, **k: -1.0)  # any audited bound >= 0 contradicts it
    code, _, err = run_qaudit(args[:-1] + [str(tmp_path / "b.json")])
    assert code == 1, err


def test_exact_unlearning_leaves_no_audited_signal(audits):
    """Canaries in the forget set: the retrain oracle removes them exactly, so the bound after unlearning
    is 0 where the trained model's is clearly positive (the same fitted attack scores both models)."""
    report = audits["plain"]
    assert report.summary["audited_epsilon"] > 0.3
    assert report.summary["audited_epsilon_after_unlearning"] == 0.0
    assert "after unlearning" in report.verdict
