"""qaudit shots: input checks, parameter-shift gradients against the adjoint engine, the study's
aggregation (seeds, mean ± std, error bars) and the physics it must show (spread grows as shots shrink)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import one_line_error

from qaudit.sdk.errors import QauditError


@pytest.fixture(scope="module")
def tiny():
    from qaudit.files import model_file as model_io
    from qaudit.files.data import load_dataset
    from qaudit.train.workflows import train_model

    ds = load_dataset("digits")
    mf = train_model("basic-qnn", ds, n_train=160, n_holdout=100, seed=5,
                     options={"qubits": 4, "layers": 2, "epochs": 6})
    return mf, ds, model_io


@pytest.fixture(scope="module")
def study(tiny, tmp_path_factory):
    from qaudit.shots import ShotSettings, run_study

    mf, ds, model_io = tiny
    path = tmp_path_factory.mktemp("shots") / "tiny.json"
    model_io.save(mf, path, command="pytest")
    mf.path = str(path)
    settings = ShotSettings(shots=[16, 1024], repeats=2, seed=7, forget_class=3, unlearn="ga", n_bootstrap=20,
                            probe_size=120)
    return run_study(mf, ds, settings, location=str(path)), path


@pytest.mark.parametrize("text, message", [
    ("64,16", "increasing order"), ("16,16", "listed twice"), ("-4,16", "positive"), ("0,16", "positive"),
    ("exact,16", "must come last"), ("16,abc", "neither"), ("", "comma-separated"), ("16,,64", "comma-separated"),
])
def test_parse_shots_rejects_bad_lists(text, message):
    from qaudit.shots import parse_shots

    with pytest.raises(QauditError, match=message):
        parse_shots(text)


def test_parse_shots_and_seeds():
    from qaudit.shots import mean_std, parse_shots, repeat_seeds

    assert parse_shots("16, 64,256,exact") == [16, 64, 256, None]
    assert parse_shots("5") == [5]
    assert repeat_seeds(3, 4) == [3, 4, 5, 6]
    with pytest.raises(QauditError, match="repeats"):
        repeat_seeds(0, 0)
    m, s = mean_std([1.0, 2.0, None, 4.0])
    assert m == pytest.approx(7 / 3) and s == pytest.approx(np.std([1, 2, 4], ddof=1))


def test_parameter_shift_matches_adjoint_gradient(tiny):
    """Exact parameter shift (an independent path: 2 shifted circuits per parameter) == adjoint engine."""
    from qaudit.run.backend_choice import resolve_backend
    from qaudit.shots import ShotEstimatedModel, check_parameter_shift

    mf, ds, _ = tiny
    X, y = ds.X[:12], ds.y[:12]
    be, _ = resolve_backend("sampled", None, mf.model)
    assert check_parameter_shift(mf.model, X, y, be) < 1e-9
    exact = ShotEstimatedModel(mf.model, be, None, 0)
    ps = exact.per_sample_grads(X, y)
    ad = mf.model.per_sample_grads(X, y)
    for k in ad:
        np.testing.assert_allclose(ps[k], ad[k], atol=1e-10)
    # the generic path through backend.expectation (no engine shortcut) agrees as well
    generic = ShotEstimatedModel(mf.model, be, None, 0)
    generic._fast = None
    _, g = generic.loss_and_grad(X, y)
    np.testing.assert_allclose(g["theta"], mf.model.loss_and_grad(X, y)[1]["theta"], atol=1e-10)


def test_shot_gradient_is_unbiased_and_noisier_with_fewer_shots(tiny):
    from qaudit.run.backend_choice import resolve_backend
    from qaudit.shots import ShotEstimatedModel

    mf, ds, _ = tiny
    X, y = ds.X[20:28], ds.y[20:28]
    be, _ = resolve_backend("sampled", 64, mf.model)
    exact = mf.model.loss_and_grad(X, y)[1]["theta"]
    errors = {}
    for shots in (64, 4096):
        est = ShotEstimatedModel(mf.model, be, shots, 11)
        draws = np.array([est.loss_and_grad(X, y)[1]["theta"] for _ in range(12)])
        errors[shots] = float(np.sqrt(np.mean((draws - exact) ** 2)))
        # the mean of 12 draws lies within 5 standard errors of the exact gradient, per parameter
        se = draws.std(axis=0, ddof=1) / np.sqrt(len(draws))
        assert np.all(np.abs(draws.mean(axis=0) - exact) <= 5 * se + 1e-9)
        assert est.circuit_runs[0] == 12 * len(X) * (2 * exact.size + 1)
    # shot noise falls like 1/sqrt(S): 64x the shots -> ~8x smaller error
    assert errors[64] > 4 * errors[4096]


def test_study_shapes_seeds_and_error_bars(study):
    report, _ = study
    runs = report.payload["runs"]
    assert [(r["shots"], r["seed"]) for r in runs] == [(16, 7), (16, 8), (1024, 7), (1024, 8)]
    assert report.settings["repeat_seeds"] == [7, 8]
    for label in ("16", "1024"):
        entry = report.payload["leak"][label]
        for metric in ("auc", "auc_low", "auc_high", "tpr@1%fpr", "member_rate"):
            values = entry[metric]["values"]
            assert len(values) == 2
            assert entry[metric]["mean"] == pytest.approx(np.mean(values))
            assert entry[metric]["std"] == pytest.approx(np.std(values, ddof=1))
        unl = report.payload["unlearn"][label]
        assert len(unl["forget_accuracy"]["values"]) == 2
        assert 0.0 <= unl["forget_accuracy"]["mean"] <= 1.0
        m = report.measurements[f"shots={label}"]
        assert m["auc_std"] == pytest.approx(entry["auc"]["std"])
    # shot-estimated unlearning ran circuits: (2P + 1) per gradient sample at least
    assert all(r["unlearn"]["circuit_runs"] > r["unlearn"]["gradient_evaluations"] for r in runs)
    # the plots carry the same means and error bars as the tables
    plot = report.plots[0]
    assert plot.x == ["16", "1024"]
    auc_series = plot.series[0]
    assert auc_series.y == [report.payload["leak"][s]["auc"]["mean"] for s in ("16", "1024")]
    assert auc_series.err == [report.payload["leak"][s]["auc"]["std"] for s in ("16", "1024")]
    assert len(report.plots) == 2


def test_output_spread_grows_as_shots_shrink(study):
    """Run-to-run jitter of the outputs over 120 probe members: 16 shots vs 1024 (expected ratio ~8)."""
    report, _ = study
    jitter = report.payload["output_jitter"]
    assert jitter["1024"] > 0
    assert jitter["16"] > 3 * jitter["1024"]


def test_reporters_render_the_study(study, host):
    import io

    from qaudit.sdk.host import get_host

    report, _ = study
    for fmt in ("rich", "markdown", "html", "json"):
        buf = io.StringIO()
        get_host().get("reporter", fmt)().render(report, buf)
        text = buf.getvalue()
        assert "leakage vs shots" in text
    html = io.StringIO()
    get_host().get("reporter", "html")().render(report, html)
    text = html.getvalue()
    assert text.count("<svg") == 2 and "shots (log scale)" in text  # matplotlib figures, log shot axis
    assert f"Verdict: {report.verdict}".replace("±", "±") in text.replace("&#x27;", "'")  # the verdict is stated
    doc = json.loads(json.dumps(report.to_json()))
    assert doc["schema"] == "qaudit.shots/1" and len(doc["runs"]) == 4 and doc["plots"][0]["x"] == ["16", "1024"]


@pytest.mark.parametrize("args, message", [
    (["--shots", "256,64"], "increasing"), (["--shots", "64,64"], "twice"), (["--shots", "-1"], "positive"),
    (["--repeats", "0"], "repeats"), (["--unlearn", "ga"], "--forget-class"),
    (["--fail-above", "auc=0.5"], "unknown metric"),
])
def test_cli_bad_input_one_line_exit_2(study, run_qaudit, args, message):
    _, path = study
    code, _, err = run_qaudit(["shots", str(path), *args])
    assert code == 2
    assert message in one_line_error(err)


def test_cli_json_output(study, run_qaudit, tmp_path):
    _, path = study
    out = tmp_path / "shots.json"
    code, _, err = run_qaudit(["shots", str(path), "--shots", "32,exact", "--repeats", "2", "--forget-class", "3",
                               "--bootstrap", "20", "-f", "json", "-o", str(out)])
    assert code == 0, err
    doc = json.loads(out.read_text())
    assert doc["settings"]["shots"] == ["32", "exact"] and doc["output_jitter"]["exact"] < 1e-12
    assert "qaudit shots" in doc["settings"]["command"]


def test_cli_fail_above_gates_every_shot_count(study, run_qaudit, tmp_path):
    """Exit 1 when any shot count breaches a threshold, 0 when none does; findings name the metric."""
    _, path = study
    args = ["shots", str(path), "--shots", "32,exact", "--repeats", "2", "--forget-class", "3",
            "--bootstrap", "20", "-f", "json"]
    out = tmp_path / "gate.json"
    code, _, err = run_qaudit([*args, "-o", str(out), "--fail-above", "auc_mean=0.0"])
    assert code == 1, err
    doc = json.loads(out.read_text())
    aucs = {s: m["auc_mean"] for s, m in doc["measurements"].items()}
    failed = [f for f in doc["findings"] if not f["passed"]]
    assert {f["metric"] for f in failed} == {"auc_mean"} and len(failed) == len(aucs)
    code, _, err = run_qaudit([*args, "-o", str(out), "--fail-above", "auc_mean=1.0"])
    assert code == 0, err
