"""Unlearning methods (ga, ssd, rga, finetune, retrain) and the verification core."""

from __future__ import annotations

import numpy as np
import pytest
from qaudit_unlearning.methods import (
    Finetune,
    GradientAscent,
    RelativeGradientAscent,
    Retrain,
    SelectiveSynapticDampening,
    SisaUnlearning,
    fisher_diagonal,
    qfi_diagonal,
)

from qaudit.sdk.errors import QauditError
from qaudit.sdk.protocols import UnlearningRequest
from qaudit.sdk.testing import check_unlearning_method, train_tiny_model


@pytest.fixture(autouse=True)
def _no_oracle_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("QAUDIT_CACHE_DIR", str(tmp_path / "cache"))


@pytest.mark.parametrize("cls,options", [(GradientAscent, {}), (SelectiveSynapticDampening, {"alpha": 1.5}),
                                         (SelectiveSynapticDampening, {"importance": "qfi", "alpha": 1.0}),
                                         (RelativeGradientAscent, {"max_steps": 3}), (Finetune, {"epochs": 1}),
                                         (Retrain, {})])
def test_methods_conform(cls, options):
    outcome = check_unlearning_method(cls, options)
    assert outcome.cost.gradient_evaluations > 0


def _split(n_forget=20):
    tiny = train_tiny_model()
    X, y = tiny.members
    return tiny, X[:n_forget], y[:n_forget], X[n_forget:], y[n_forget:]


def test_ga_one_step_is_an_ascent_step():
    tiny, Xf, yf, _, _ = _split()
    model = tiny.model
    _, g = model.loss_and_grad(Xf, yf)  # batch = whole forget set; the mean loss ignores the order
    request = UnlearningRequest(Xf, yf, options={"steps": 1, "batch_size": len(Xf), "momentum": 0.0, "lr": 0.1})
    out = GradientAscent().unlearn(model, request)
    for k in g:
        np.testing.assert_allclose(out.model.weights[k], model.weights[k] + 0.1 * g[k], atol=1e-12)
    assert out.cost.gradient_evaluations == len(Xf)


def test_rga_one_step_follows_the_documented_rule():
    tiny, Xf, yf, Xr, yr = _split()
    model = tiny.model
    _, gf = model.loss_and_grad(Xf, yf)
    _, gr = model.loss_and_grad(Xr, yr)
    norm = lambda g: np.sqrt(sum(np.sum(v * v) for v in g.values()))  # noqa: E731
    gamma = norm(gr) / norm(gf)
    request = UnlearningRequest(Xf, yf, Xr, yr, options={"max_steps": 1, "batch_size": 10_000, "lr": 0.05,
                                                         "gamma_scale": 1.0, "target": None})
    out = RelativeGradientAscent().unlearn(model, request)
    for k in gf:
        np.testing.assert_allclose(out.model.weights[k], model.weights[k] - 0.05 * (gr[k] - gamma * gf[k]),
                                   atol=1e-12)
    assert out.details["mean_gamma"] == pytest.approx(gamma)


def test_ssd_dampens_exactly_the_selected_weights():
    tiny, Xf, yf, Xr, yr = _split()
    model = tiny.model
    X_all, y_all = np.concatenate([Xf, Xr]), np.concatenate([yf, yr])

    def fisher(X, y):  # independent: one loss_and_grad per sample
        acc = {k: np.zeros_like(v) for k, v in model.weights.items()}
        for i in range(len(X)):
            _, g = model.loss_and_grad(X[i : i + 1], y[i : i + 1])
            for k in acc:
                acc[k] += g[k] ** 2
        return {k: v / len(X) for k, v in acc.items()}

    ff, fd = fisher(Xf, yf), fisher(X_all, y_all)
    fast = fisher_diagonal(model, Xf, yf)
    for k in ff:
        np.testing.assert_allclose(fast[k], ff[k], rtol=1e-9, atol=1e-14)
    alpha, lam = 1.5, 0.8
    request = UnlearningRequest(Xf, yf, Xr, yr, options={"alpha": alpha, "lam": lam, "fisher_samples": 10_000})
    out = SelectiveSynapticDampening().unlearn(model, request)
    n_selected = 0
    floor = 1e-12 * max(v.max() for v in ff.values())
    for k in ff:
        sel = (ff[k] > alpha * fd[k]) & (ff[k] > floor)
        beta = np.minimum(lam * fd[k] / ff[k], 1.0)
        want = np.where(sel, model.weights[k] * beta, model.weights[k])
        np.testing.assert_allclose(out.model.weights[k], want, rtol=1e-9, atol=1e-14)
        n_selected += int(sel.sum())
        assert out.details["dampened"][k] == int(sel.sum())
    assert n_selected > 0  # the test exercises dampening


def test_ssd_with_alpha_above_the_forget_fraction_bound_changes_nothing():
    tiny, Xf, yf, Xr, yr = _split()
    n = len(Xf) + len(Xr)
    request = UnlearningRequest(Xf, yf, Xr, yr, options={"alpha": 1.01 * n / len(Xf), "fisher_samples": 10_000})
    out = SelectiveSynapticDampening().unlearn(tiny.model, request)
    assert sum(out.details["dampened"].values()) == 0


def test_qfi_diagonal_matches_fidelity_finite_differences():
    from qaudit.engine import forward

    tiny = train_tiny_model()
    model = tiny.model
    X = tiny.members[0][:3]
    _, _, program, obs, _ = model.compiled[:5]
    states = model.transform(X).astype(np.complex128)
    theta = model.weights["theta"]
    metric = np.zeros_like(theta)
    h = 1e-4
    for i in range(len(theta)):
        f = []
        for s in (+h, -h):
            t = theta.copy()
            t[i] += s
            _, ev0 = forward(program, theta, obs, states=states, method="batched")
            _, ev1 = forward(program, t, obs, states=states, method="batched")
            f.append(np.abs(np.sum(ev0.psi.conj() * ev1.psi, axis=1)) ** 2)
        # 1 - F(θ, θ±h) = g h² + O(h^4) (symmetrised)
        metric[i] = np.mean((2.0 - f[0] - f[1]) / (2 * h * h))
    got = qfi_diagonal(model, X)
    np.testing.assert_allclose(got, metric, rtol=1e-5, atol=1e-7)
    assert np.all(got >= -1e-12) and np.any(got > 1e-3)


def test_sisa_method_on_plain_model_is_a_clear_error():
    tiny, Xf, yf, Xr, yr = _split()
    with pytest.raises(QauditError, match="--model sisa -O shards="):
        SisaUnlearning().unlearn(tiny.model, UnlearningRequest(Xf, yf, Xr, yr))


def test_unknown_option_is_rejected():
    tiny, Xf, yf, _, _ = _split()
    with pytest.raises(QauditError, match="unknown option"):
        GradientAscent().unlearn(tiny.model, UnlearningRequest(Xf, yf, options={"bogus": 1}))


# ----------------------------------------------------------------------------- verification core
def test_resolve_forget_errors():
    from qaudit import unlearn as core

    tiny = train_tiny_model()
    mf, ds = tiny.file, tiny.dataset
    fs = core.resolve_forget(mf, ds, [4], None)
    assert np.all(ds.y[fs.forget_ids] == 4) and not np.intersect1d(fs.forget_ids, fs.retain_ids).size
    assert len(fs.forget_ids) + len(fs.retain_ids) == len(mf.data.members)
    with pytest.raises(QauditError, match="do not exist"):
        core.resolve_forget(mf, ds, [42], None)
    with pytest.raises(QauditError, match="say what to forget"):
        core.resolve_forget(mf, ds, None, None)
    with pytest.raises(QauditError, match="nothing would remain"):
        core.resolve_forget(mf, ds, list(range(10)), None)


def test_retrain_is_independent_of_the_reference_and_verification_is_consistent():
    """``retrain`` trains with the request's seed: the same seed as an oracle reproduces that oracle exactly,
    and the reference's seeds never include the run's own seed."""
    from qaudit import unlearn as core

    tiny = train_tiny_model()
    mf, ds = tiny.file, tiny.dataset
    fs = core.resolve_forget(mf, ds, [3], None)
    verifier = core.Verifier(mf, ds, fs, seed=0)
    before = verifier.snapshot(mf.model)
    pred = mf.model.predict(ds.X[fs.forget_ids])
    assert before["accuracy"]["forget"] == pytest.approx(np.mean(pred == 3))
    seeds = core.oracle_seeds(mf, 3, avoid={0})
    assert len(set(seeds)) == 3 and 0 not in seeds
    assert core.oracle_seeds(mf, 3) == seeds  # derived from the model file, reproducible
    reference = core.make_reference(mf, ds, fs, verifier, 2, avoid={7}, cache=False)
    assert [o.seed for o in reference.oracles] == core.oracle_seeds(mf, 2, avoid={7})
    same = core.apply_method("retrain", mf, ds, fs, verifier, reference, reference.oracles[0].seed, {})
    for k, v in reference.oracles[0].model.weights.items():
        np.testing.assert_array_equal(same.model.weights[k], v)
    other = core.apply_method("retrain", mf, ds, fs, verifier, reference, 7, {})
    assert any(not np.array_equal(other.model.weights[k], v) for k, v in reference.oracles[0].model.weights.items())
    assert other.cost_ratio == pytest.approx(1.0)
    assert other.cost.gradient_evaluations == mf.model.options["epochs"] * len(fs.retain_ids)
    assert 0.0 < other.distance["forget_kl"] and other.distance["holdout_agreement"] < 1.0
    # the retrains never saw class 3, so they never predict it
    assert all(o.snapshot["accuracy"]["forget"] == 0.0 for o in reference.oracles)
    spread = reference.summary()
    assert spread["accuracy.retain"]["sd"] > 0 and len(spread["distance.forget_kl"]["values"]) == 2


def test_oracle_cache_round_trip(tmp_path):
    from qaudit import unlearn as core
    from qaudit.files import model_file as model_io

    tiny = train_tiny_model()
    path = tmp_path / "m.json"
    model_io.save(tiny.file, path)
    mf = model_io.load(path)
    fs = core.resolve_forget(mf, tiny.dataset, [2], None)
    verifier = core.Verifier(mf, tiny.dataset, fs, seed=0)
    first = core.make_reference(mf, tiny.dataset, fs, verifier, 2)
    second = core.make_reference(mf, tiny.dataset, fs, verifier, 3)  # two cached, one new
    assert [o.source for o in first.oracles] == ["retrained"] * 2
    assert [o.source.split(" ")[0] for o in second.oracles] == ["cached", "cached", "retrained"]
    assert second.source == "3 retrains (2 cached, 1 retrained)"
    for a, b in zip(first.oracles, second.oracles):
        assert a.seed == b.seed and a.gradient_evaluations == b.gradient_evaluations
        for k, v in a.model.weights.items():
            np.testing.assert_array_equal(b.model.weights[k], v)


def test_request_without_retained_data_is_rejected_for_methods_needing_it():
    from qaudit import unlearn as core
    from qaudit.sdk.host import get_host

    tiny = train_tiny_model()
    fs = core.resolve_forget(tiny.file, tiny.dataset, [1], None)
    with pytest.raises(QauditError, match="no retained data"):
        core.build_request(get_host().get("unlearning", "rga"), tiny.dataset, fs, 0, {}, 10, retain_fraction=0.0)
    req = core.build_request(get_host().get("unlearning", "ga"), tiny.dataset, fs, 0, {}, 10, retain_fraction=0.0)
    assert req.X_retain is None  # ga gets the forget set only


def test_epsilon_of_threshold_attacks():
    from qaudit.unlearn import _epsilon

    a = np.array([0.1, 0.2, 0.3, 0.4])
    assert _epsilon(a, a.copy()) == pytest.approx(0.0, abs=1e-12)
    # perfectly separated: FPR = FNR = 0.5 / 5, ε = log((1 - 0.1) / 0.1)
    assert _epsilon(a, a + 10) == pytest.approx(np.log(0.9 / 0.1))


def test_forget_quality_of_retraining_is_one_and_of_doing_nothing_is_lower():
    from qaudit import unlearn as core

    tiny = train_tiny_model()
    fs = core.resolve_forget(tiny.file, tiny.dataset, [0], None)
    fq = core.forget_quality(tiny.file, tiny.dataset, fs, "retrain", {}, 2)
    assert fq["forget_quality"] == 1.0 and fq["epsilon_max"] == pytest.approx(0.0, abs=1e-12)
    # finetune for zero epochs leaves the forget class in: clearly distinguishable from retraining
    fq0 = core.forget_quality(tiny.file, tiny.dataset, fs, "finetune", {"epochs": 0}, 2)
    assert fq0["forget_quality"] < 0.5


# ----------------------------------------------------------------------------- HQNN
@pytest.fixture(scope="module")
def hqnn_tiny():
    """An HQNN after one epoch on 120 MNIST images (skips without the shared MNIST files)."""

    from conftest import SHARED

    from qaudit.files.data import load_dataset
    from qaudit.sdk.testing import make_host, using_host

    mnist_dir = SHARED / "data" / "mnist"
    if not (mnist_dir / "t10k-images-idx3-ubyte.gz").is_file():
        pytest.skip(f"MNIST IDX files not found in {mnist_dir}")
    with using_host(make_host()):
        ds = load_dataset("mnist", {"data_dir": str(mnist_dir)})
        model = make_host().get("model", "hqnn")(layers=1, epochs=1, seed=1)
        model.fit(ds.X[:120], ds.y[:120], n_classes=10)
    return model, ds


@pytest.mark.parametrize("cls,options", [(GradientAscent, {"epochs": 1}), (RelativeGradientAscent, {"max_steps": 2}),
                                         (SelectiveSynapticDampening, {"importance": "qfi"})])
def test_methods_on_the_hqnn(hqnn_tiny, cls, options):
    from qaudit.sdk.testing import TinyModel

    model, ds = hqnn_tiny
    from qaudit.files.data import DataRecord
    from qaudit.files.model_file import ModelFile

    record = DataRecord("mnist", {}, np.arange(120), np.arange(120, 160), 0)
    tiny = TinyModel(model.copy(), ModelFile(model, "hqnn", record), ds)
    outcome = check_unlearning_method(cls, options, tiny, n_forget=16)
    # every HQNN weight (convolution, linear, circuit, head) is a candidate
    if cls is not SelectiveSynapticDampening:
        assert any(not np.array_equal(outcome.model.weights[k], model.weights[k]) for k in ("conv_weight", "theta"))


def test_qfi_on_the_hqnn_uses_the_encoded_state(hqnn_tiny):
    from qaudit.engine import forward

    model, ds = hqnn_tiny
    X = ds.X[200:202]
    _, _, program, obs, _ = model.compiled[:5]
    states = model.engine_inputs(model.transform(X))["states"]
    theta = model.weights["theta"]
    h, i = 1e-4, 4
    f = []
    for s in (h, -h):
        t = theta.copy()
        t[i] += s
        _, e0 = forward(program, theta, obs, states=states, method="batched")
        _, e1 = forward(program, t, obs, states=states, method="batched")
        f.append(np.abs(np.sum(e0.psi.conj() * e1.psi, axis=1)) ** 2)
    want = np.mean((2.0 - f[0] - f[1]) / (2 * h * h))
    assert qfi_diagonal(model, X)[i] == pytest.approx(want, rel=1e-5, abs=1e-8)
