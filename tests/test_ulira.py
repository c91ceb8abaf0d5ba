"""U-LiRA (qaudit/unlearn/ulira.py): the pair design, the statistics on simulated shadow observations, the
floors on real models (a no-op method on a memorising model is caught; retraining is not), the
command line (reports, gating, bad input)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import plugin_module

from qaudit.leak import metrics
from qaudit.sdk.protocols import UnlearningCost, UnlearningOutcome
from qaudit.unlearn import ulira

#: A basic QNN that memorises its 24 members (no-op U-LiRA AUC 0.998 with 8 pairs, measured).
MEMORISING = {"qubits": 6, "layers": 3, "epochs": 60, "batch_size": 4, "lr": 0.1}


class NoOp:
    """A third-party-style method that forgets nothing: returns a copy of the original model."""

    name = "noop-test"
    description = "returns a copy of the original model (test plugin)"
    needs = frozenset({"forget"})

    def unlearn(self, model, request):
        return UnlearningOutcome(model.copy(), UnlearningCost(0, 0, 0.0), {})


NOOP_PLUGIN = plugin_module("noop_unlearning_test", api="2",
                            register_unlearning_methods=lambda register: register(NoOp))


@pytest.fixture
def qaudit_plugins():
    return [NOOP_PLUGIN]


def simulate(K: int, n: int, shift: float, rng: np.random.Generator) -> ulira.Observations:
    """Shadow observations: per-example means, unlearned phi shifted by *shift* standard deviations."""
    mu = rng.normal(2, 2, n)
    U, R = np.full((K, n), np.nan), np.full((K, n), np.nan)
    for p in ulira.plan_pairs(n, K, int(rng.integers(2**31))):
        U[p.index, p.forget] = mu[p.forget] + shift + rng.normal(0, 1, p.forget.size)
        R[p.index, p.forget] = mu[p.forget] + rng.normal(0, 1, p.forget.size)
    return ulira.Observations(U, R)


def test_pairs_are_balanced_seeded_and_reproducible():
    plans = ulira.plan_pairs(49, 8, seed=3)
    counts = np.zeros(49, int)
    for p in plans:
        counts[p.forget] += 1
    assert (counts == 4).all()  # every example: K/2 unlearned and K/2 retrained observations
    for a, b in zip(plans[::2], plans[1::2]):
        assert np.intersect1d(a.forget, b.forget).size == 0 and a.forget.size + b.forget.size == 49
    again = ulira.plan_pairs(49, 8, seed=3)
    assert all(np.array_equal(a.forget, b.forget) and a.train_seed == b.train_seed for a, b in zip(plans, again))
    other = ulira.plan_pairs(49, 8, seed=4)
    assert not all(np.array_equal(a.forget, b.forget) for a, b in zip(plans, other))
    seeds = [s for p in plans for s in (p.train_seed, p.retrain_seed, p.unlearn_seed)]
    assert len(set(seeds)) == len(seeds)


def test_vectorised_cross_fitting_equals_the_loop():
    obs = simulate(8, 7, 0.5, np.random.default_rng(0))
    su, sr = ulira.cross_fitted_scores(obs)
    for j in range(4):
        train = np.ones(8, bool)
        train[2 * j: 2 * j + 2] = False
        mu_u, mu_r = np.nanmean(obs.unlearned[train], 0), np.nanmean(obs.retrained[train], 0)
        var_u = np.full(7, np.nanmean(np.nanvar(obs.unlearned[train], 0, ddof=1)))
        var_r = np.full(7, np.nanmean(np.nanvar(obs.retrained[train], 0, ddof=1)))
        want = ulira._loglr(obs.unlearned[2 * j], mu_u, var_u, mu_r, var_r)
        np.testing.assert_allclose(su[2 * j], want, equal_nan=True)
    s = np.r_[su[np.isfinite(su)], sr[np.isfinite(sr)]]
    m = np.r_[np.ones(np.isfinite(su).sum(), bool), np.zeros(np.isfinite(sr).sum(), bool)]
    assert ulira.pooled_auc(su, sr) == pytest.approx(metrics.auc(s, m))


def test_null_false_alarm_rate_is_at_most_alpha_and_in_sample_fitting_would_not_be():
    """Unlearned = retrained in distribution: the verdict's false-alarm rate stays within the binomial
    interval of alpha, the AUC is ~0.5 -- while Gaussians fitted on the scored observations would
    report AUC > 0.6 on the same data (what cross-fitting prevents)."""
    rng = np.random.default_rng(11)
    rejections, aucs, in_sample = 0, [], []
    n_sims = 120
    for i in range(n_sims):
        obs = simulate(12, 30, 0.0, rng)
        su, sr = ulira.cross_fitted_scores(obs)
        auc = ulira.pooled_auc(su, sr)
        aucs.append(auc)
        rejections += ulira.permutation_p(obs, auc, i, n_perm=60) <= 0.05
        su_in, sr_in = _in_sample(obs)
        in_sample.append(ulira.pooled_auc(su_in, sr_in))
    lo, _ = metrics.clopper_pearson(rejections, n_sims)
    assert lo <= 0.05, rejections
    assert abs(np.mean(aucs) - 0.5) < 0.02
    assert np.mean(in_sample) > 0.6


def _in_sample(obs: ulira.Observations) -> tuple[np.ndarray, np.ndarray]:
    """The mistake cross-fitting prevents: Gaussians fitted on every observation, scoring them too."""
    onehot = np.zeros((1, obs.unlearned.shape[0]))  # hold out nothing
    mu_u, var_u = ulira._leave_group_out(obs.unlearned, onehot, True)
    mu_r, var_r = ulira._leave_group_out(obs.retrained, onehot, True)
    return (ulira._loglr(obs.unlearned, mu_u[0], var_u[0], mu_r[0], var_r[0]),
            ulira._loglr(obs.retrained, mu_u[0], var_u[0], mu_r[0], var_r[0]))


def test_a_shift_is_detected_and_the_interval_covers_it():
    rng = np.random.default_rng(2)
    far = ulira.analyse(simulate(16, 40, 1.5, rng), "m", 0, np.arange(40), np.zeros(40, int), n_perm=200,
                        n_boot=200)
    assert far.distinguishable and far.summary["auc_low"] > 0.6
    assert far.identifiable.sum() > 0
    near = ulira.analyse(simulate(16, 40, 0.0, rng), "m", 0, np.arange(40), np.zeros(40, int), n_perm=200,
                         n_boot=200)
    assert near.summary["auc_low"] <= 0.5 <= near.summary["auc_high"]
    assert not near.distinguishable and near.identifiable.sum() == 0


def test_report_in_every_format(tmp_path):
    from qaudit.report.render import render_all
    from qaudit.report.results import Report

    res = ulira.analyse(simulate(8, 20, 1.0, np.random.default_rng(0)), "noop-test", 0, np.arange(20),
                        np.arange(20) % 10, n_perm=50, n_boot=50)
    rep = Report(kind="unlearn", title="t", schema="qaudit.unlearn/1", verdict="v")
    ulira.attach(rep, res)
    outs = {f: tmp_path / f"r.{f}" for f in ("json", "sarif", "junit", "markdown", "html", "rich")}
    render_all(rep, list(outs.items()))
    body = json.loads(outs["json"].read_text())["ulira"]
    assert body["auc"] == pytest.approx(res.summary["auc"]) and len(body["per_example"]["rows"]) == 20
    html = outs["html"].read_text()
    assert html.count('<rect class="bar"') == 10 and "<script" not in html
    for f in ("markdown", "rich"):
        assert "per-example AUC distribution" in outs[f].read_text()
    assert rep.measurements["noop-test"]["ulira_auc"] == pytest.approx(res.summary["auc"])


@pytest.fixture(scope="module")
def memorising(tmp_path_factory):
    from qaudit.files import model_file as model_io
    from qaudit.sdk.testing import load_tiny_dataset, make_host, using_host
    from qaudit.train.workflows import train_model

    ds = load_tiny_dataset()
    with using_host(make_host()):
        mf = train_model("basic-qnn", ds, n_train=24, n_holdout=100, seed=0, options=MEMORISING)
        path = tmp_path_factory.mktemp("ulira") / "memo.json"
        model_io.save(mf, path)
    forget = np.sort(np.random.default_rng(0).choice(mf.data.members, 6, replace=False))
    idx = path.with_name("forget.txt")
    idx.write_text("\n".join(map(str, forget)))
    return path, idx


def test_noop_method_on_a_memorising_model_is_caught_and_gated(cli_runner, memorising, tmp_path):
    """Floor: a method returning the original model gives U-MIA AUC >= 0.9 (through the command line,
    as a third-party plugin: nothing method-specific); ``--fail-above ulira_auc=0.6`` fails the run."""
    path, idx = memorising
    out = tmp_path / "r.json"
    res = cli_runner.invoke(["unlearn", str(path), "--method", "noop-test", "--forget-indices", str(idx),
                             "--audit", "ulira", "-K", "8", "--no-forget-gate", "--out", str(tmp_path / "u.json"),
                             "-f", "json", "--output", str(out), "--fail-above", "ulira_auc=0.6"])
    assert res.exit_code == 1, res.stderr
    doc = json.loads(out.read_text())
    assert doc["ulira"]["auc"] >= 0.9 and doc["ulira"]["auc_low"] < doc["ulira"]["auc_high"]
    assert doc["ulira"]["shadow_pairs"] == 8 and doc["ulira"]["verdict"]["distinguishable"]
    assert any(f["metric"] == "ulira_auc" and not f["passed"] for f in doc["findings"])


@pytest.mark.slow
def test_retrain_as_the_method_is_indistinguishable(memorising):
    """Floor: with retraining as the "unlearning" method the AUC's interval contains 0.5."""
    from qaudit.files import model_file as model_io
    from qaudit.sdk.testing import make_host, using_host
    from qaudit.train.workflows import dataset_for

    path, idx = memorising
    with using_host(make_host()):
        mf = model_io.load(path)
        ds = dataset_for(mf, None)
        forget = np.array([int(v) for v in idx.read_text().split()])
        res = ulira.audit(mf, ds, forget, "retrain", {}, pairs=16, seed=0)
    assert res.summary["auc_low"] <= 0.5 <= res.summary["auc_high"], res.summary
    assert not res.distinguishable


@pytest.mark.parametrize("extra,message", [
    (["-K", "6"], "-K/--shadow-pairs must be an integer in 8..128"),
    (["-K", "9"], "must be even"),
    (["--audit", "lira"], "unknown audit"),
])
def test_bad_ulira_input_is_a_one_line_error(cli_runner, tiny_model, tmp_path, extra, message):
    res = cli_runner.invoke(["unlearn", str(tiny_model.path), "--method", "ga", "--forget-class", "1",
                             "--audit", "ulira", *extra])
    assert res.exit_code == 2 and message in res.stderr and len(res.stderr.strip().splitlines()) == 1, res.stderr


def test_forget_set_too_large_for_shadow_pairs(cli_runner, tiny_model, tmp_path):
    members = tiny_model.file.data.members
    f = tmp_path / "big.txt"
    f.write_text("\n".join(map(str, members[: len(members) // 2 + 1])))
    res = cli_runner.invoke(["unlearn", str(tiny_model.path), "--method", "ga", "--forget-indices", str(f),
                             "--audit", "ulira"])
    assert res.exit_code == 2 and "larger than half" in res.stderr, res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
