"""SISA ensembles: training, model file round trip and exact unlearning."""

from __future__ import annotations

import numpy as np
import pytest
from qaudit_unlearning.sisa import SisaEnsemble, assign

from qaudit.sdk.errors import QauditError
from qaudit.sdk.testing import load_tiny_dataset

OPTS = {"constituent": "basic-qnn", "constituent_options": {"qubits": 4, "layers": 1, "epochs": 2, "lr": 0.1,
                                                            "batch_size": 16},
        "shards": 3, "slices": 3, "seed": 5}


def _data(n=240):
    ds = load_tiny_dataset()
    ids = np.arange(40, 40 + n) * 3  # dataset indices, not 0..n-1
    return ds, ids


def _train(ids, ds):
    return SisaEnsemble(**OPTS).fit(ds.X[ids], ds.y[ids], n_classes=10, sample_ids=ids)


def test_assignment_depends_on_the_index_only():
    ids = np.arange(100)
    s1, r1 = assign(ids, 4, 3, seed=1)
    s2, r2 = assign(ids[::2], 4, 3, seed=1)
    np.testing.assert_array_equal(s1[::2], s2)
    np.testing.assert_array_equal(r1[::2], r2)
    assert set(s1) == {0, 1, 2, 3} and set(r1) == {0, 1, 2}
    s3, _ = assign(ids, 4, 3, seed=2)
    assert not np.array_equal(s1, s3)


def test_unlearning_equals_training_without_the_sample_and_touches_one_shard():
    ds, ids = _data()
    full = _train(ids, ds)
    # forget a sample that sits in a late slice, so the restart is from a checkpoint
    late = np.flatnonzero(full.slice == 2)
    target = int(full.ids[late[0]])
    shard = int(full.shard[late[0]])
    before = full.copy()
    unlearned = full.copy()
    keep = ids[ids != target]
    report = unlearned.unlearn_ids(np.array([target]), keep, ds.X[keep], ds.y[keep])
    assert report["affected_shards"] == [shard]
    assert report["restart_slice"] == {str(shard): 2}
    scratch = _train(keep, ds)
    for s in range(OPTS["shards"]):
        for k, v in scratch.members[s].weights.items():
            np.testing.assert_allclose(unlearned.members[s].weights[k], v, rtol=0, atol=1e-12)
        if s != shard:  # untouched shards are bit-identical to before
            for k, v in before.members[s].weights.items():
                np.testing.assert_array_equal(unlearned.members[s].weights[k], v)
    # the affected shard changed, and its checkpoints before the restart slice did not
    assert any(not np.array_equal(unlearned.members[shard].weights[k], before.members[shard].weights[k])
               for k in before.members[shard].weights)
    for r in range(2):
        for k, v in before.checkpoints[shard][r].items():
            np.testing.assert_array_equal(unlearned.checkpoints[shard][r][k], v)
    # cost: only the affected shard's last slice was replayed
    n_shard_after = int(np.sum(unlearned.shard == shard))
    assert report["gradient_evaluations"] == unlearned._slice_epochs() * n_shard_after
    np.testing.assert_allclose(unlearned.predict_proba(ds.X[:20]), scratch.predict_proba(ds.X[:20]), atol=1e-12)


def test_unlearning_a_first_slice_sample_retrains_the_shard_from_scratch():
    ds, ids = _data()
    full = _train(ids, ds)
    first = np.flatnonzero(full.slice == 0)[0]
    target, shard = int(full.ids[first]), int(full.shard[first])
    keep = ids[ids != target]
    unlearned = full.copy()
    report = unlearned.unlearn_ids(np.array([target]), keep, ds.X[keep], ds.y[keep])
    assert report["restart_slice"] == {str(shard): 0}
    scratch = _train(keep, ds)
    for k, v in scratch.members[shard].weights.items():
        np.testing.assert_allclose(unlearned.members[shard].weights[k], v, rtol=0, atol=1e-12)


def test_model_file_round_trip(tmp_path):
    from qaudit.files import model_file as model_io
    from qaudit.files.data import DataRecord
    from qaudit.files.model_file import ModelFile

    ds, ids = _data()
    ens = _train(ids, ds)
    record = DataRecord("digits", {}, np.sort(ids), np.arange(5), 0)
    path = tmp_path / "sisa.json"
    model_io.save(ModelFile(ens, "sisa", record), path)
    loaded = model_io.load(path).model
    np.testing.assert_allclose(loaded.predict_proba(ds.X[:10]), ens.predict_proba(ds.X[:10]), atol=1e-12)
    np.testing.assert_array_equal(loaded.shard, ens.shard)
    for s in range(OPTS["shards"]):
        for r in range(OPTS["slices"]):
            for k, v in ens.checkpoints[s][r].items():
                np.testing.assert_array_equal(loaded.checkpoints[s][r][k], v)
    # tampered files are rejected with one-line errors
    import json

    doc = json.loads(path.read_text())
    doc["config"]["assignment"]["shard"][0] = 99
    path.write_text(json.dumps(doc))
    with pytest.raises(QauditError, match="out of range"):
        model_io.load(path)
    doc["config"]["assignment"]["shard"][0] = 0
    doc["config"]["constituent"] = "sisa"
    path.write_text(json.dumps(doc))
    with pytest.raises(QauditError, match="constituent"):
        model_io.load(path)


def test_train_workflow_and_sisa_method(tmp_path):
    from qaudit import unlearn as core
    from qaudit.sdk.host import get_host
    from qaudit.train.workflows import train_model

    ds = load_tiny_dataset()
    mf = train_model("sisa", ds, n_train=120, n_holdout=60, seed=3,
                     options={"constituent": "basic-qnn", "constituent_options": OPTS["constituent_options"],
                              "shards": 2, "slices": 2})
    assert mf.kind == "sisa" and mf.model.options["constituent"] == "basic-qnn"
    assert set(mf.model.ids.tolist()) == set(mf.data.members.tolist())
    fs = core.ForgetSet(mf.data.members[:3], mf.data.members[3:])
    request = core.build_request(get_host().get("unlearning", "sisa"), ds, fs, 0, {}, 10)
    outcome = core.run_method("sisa", mf.model, request)
    assert not np.isin(fs.forget_ids, outcome.model.ids).any()
    assert len(outcome.model.ids) == len(mf.model.ids) - 3
    assert outcome.cost.gradient_evaluations > 0


def test_ensemble_protocol_parts_combine_and_required_sample_ids():
    from qaudit.run.query import query

    ds, ids = _data()
    ens = _train(ids, ds)
    assert SisaEnsemble.roles == frozenset() and ens.n_qubits == 4
    parts = ens.parts()
    assert parts == ens.members and len(parts) == OPTS["shards"]
    X = ds.X[:10]
    mean = np.mean([m.predict_proba(X) for m in parts], axis=0)
    np.testing.assert_allclose(ens.combine([m.predict_proba(X) for m in parts]), mean, rtol=0, atol=1e-12)
    np.testing.assert_allclose(ens.predict_proba(X), mean, rtol=0, atol=1e-12)
    np.testing.assert_allclose(query(ens, X).probs, mean, rtol=0, atol=1e-12)
    with pytest.raises(QauditError, match="sample_ids"):
        SisaEnsemble(**OPTS).fit(ds.X[ids], ds.y[ids], n_classes=10)
    with pytest.raises(TypeError):
        SisaEnsemble(**OPTS).fit(ds.X[ids], ds.y[ids], None, 10)  # keyword-only after y
    with pytest.raises(QauditError, match="not trained"):
        SisaEnsemble(**OPTS).parts()


def test_train_cli_trains_a_sisa_ensemble_through_options(tmp_path, cli_runner):
    import json

    out = tmp_path / "sisa.json"
    res = cli_runner.invoke(["train", "--model", "sisa", "-O", "shards=2", "-O", "slices=2",
                             "-O", "constituent=basic-qnn",
                             "-O", 'constituent_options={"qubits": 4, "layers": 1, "epochs": 2}',
                             "--n-train", "120", "--n-holdout", "30", "--out", str(out)])
    assert res.exit_code == 0, res.stderr
    doc = json.loads(out.read_text())
    assert doc["kind"] == "sisa"
    assert doc["config"]["shards"] == 2 and doc["config"]["slices"] == 2
    assert doc["config"]["constituent"] == "basic-qnn" and doc["config"]["constituent_options"]["qubits"] == 4
    assert sorted(doc["config"]["assignment"]["ids"]) == sorted(doc["data"]["members"])
    gone = cli_runner.invoke(["train", "--sisa-shards", "2", "--out", str(tmp_path / "x.json")])
    assert gone.exit_code == 2 and not (tmp_path / "x.json").exists()


def test_common_training_flags_reach_the_constituents(tmp_path, cli_runner):
    """`qaudit train --model sisa --qubits 4 --layers 2 --epochs 5` used to fail with "sisa: unknown option(s)"."""
    import json

    out = tmp_path / "sisa.json"
    res = cli_runner.invoke(["train", "--model", "sisa", "--qubits", "4", "--layers", "2", "--epochs", "5",
                             "-O", "shards=2", "--n-train", "120", "--n-holdout", "30", "--out", str(out)])
    assert res.exit_code == 0, res.stderr
    doc = json.loads(out.read_text())
    inner = doc["config"]["constituent_options"]
    assert (inner["qubits"], inner["layers"], inner["epochs"]) == (4, 2, 5)
    assert "qubits" not in doc["config"]  # the ensemble's own options stay its own


def test_forwarded_options_are_checked_by_the_constituent():
    ens = SisaEnsemble(qubits=4, constituent_options={"layers": 1})
    assert ens.get_params()["constituent_options"] == {"qubits": 4, "layers": 1}
    assert SisaEnsemble(**ens.get_params()).get_params() == ens.get_params()  # stable through a model file
    with pytest.raises(QauditError, match="basic-qnn: unknown option"):
        SisaEnsemble.from_options({"qubitz": 4})
    with pytest.raises(QauditError, match="qubits given both"):
        SisaEnsemble(qubits=4, constituent_options={"qubits": 5})
