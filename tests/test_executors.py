"""Executors (issue 16): the same report on every executor, failures named, a dead worker survived.

The equivalence and failure tests that need Dask skip (with the reason) when the ``dask`` extra is not
installed; CI installs it (.ci/run).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time

import numpy as np
import pytest
from conftest import one_line_error

from qaudit.run.parallel import job_seeds, open_executor, run
from qaudit.sdk.errors import JobFailed, QauditError
from qaudit.sdk.host import get_host
from qaudit.sdk.protocols import Job


def _dask():
    return pytest.importorskip("distributed", reason="the dask extra is not installed (pip install 'qaudit[dask]')")


def _timeless(doc):
    """The report without timings and the command line (they legitimately differ between executors)."""
    from qaudit.sdk.testing import timeless

    return timeless(doc, drop=("command",))


@pytest.fixture(scope="module")
def cluster():
    """A Dask LocalCluster of two single-threaded worker processes (what a real cluster looks like)."""
    _dask()
    from qaudit_executors.dask_executor import local_cluster

    with local_cluster(2) as local:
        yield local


@pytest.fixture(scope="module")
def lira_model(tmp_path_factory):
    from qaudit.files import model_file as model_io
    from qaudit.files.data import load_dataset
    from qaudit.train.workflows import train_model

    mf = train_model("basic-qnn", load_dataset("digits"), n_train=120, n_holdout=120, seed=5,
                     options={"qubits": 4, "layers": 1, "epochs": 3})
    path = tmp_path_factory.mktemp("lira") / "m.json"
    model_io.save(mf, path, command="pytest")
    return path


@pytest.fixture(scope="module")
def sisa_model(tmp_path_factory):
    from qaudit.files import model_file as model_io
    from qaudit.files.data import load_dataset
    from qaudit.train.workflows import train_model

    # 240 members: the judgement's retrains use other seeds, hence other shard assignments, and every
    # shard's first slice must still hold >= 16 samples for the constituent's PCA
    mf = train_model("sisa", load_dataset("digits"), n_train=240, n_holdout=60, seed=3,
                     options={"shards": 3, "slices": 2, "constituent": "basic-qnn",
                              "constituent_options": {"qubits": 4, "layers": 1, "epochs": 2}})
    path = tmp_path_factory.mktemp("sisa") / "sisa.json"
    model_io.save(mf, path, command="pytest")
    return path


# --------------------------------------------------------------------------- seeds and the protocol
def test_job_seeds_are_spawned_and_depend_only_on_seed_and_position():
    seeds = job_seeds(7, 5)
    assert seeds == job_seeds(7, 5) and len(set(seeds)) == 5
    assert job_seeds(7, 3) == seeds[:3]  # job k's seed does not depend on how many jobs there are
    spawned = np.random.SeedSequence(7).spawn(2)[1].generate_state(1, np.uint32)[0]
    assert seeds[1] == int(spawned) and all(0 <= s < 2**32 for s in seeds)
    assert job_seeds(8, 5) != seeds


def test_every_executor_declares_a_role_and_documents_itself():
    host = get_host()
    assert host.role("executor", "inline") and host.role("executor", "default") and host.role("executor", "scheduler")
    for name in host.names("executor"):
        cls = host.get("executor", name)
        assert cls.description and cls.open.__doc__ and cls.map.__doc__


@pytest.mark.parametrize("workers", [1, 2])
def test_results_come_back_in_job_order(workers):
    with_seeds = [Job((int(s),), seed=int(s)) for s in job_seeds(0, 6)]
    expect = [int(np.random.default_rng(j.seed).integers(1 << 30)) for j in with_seeds]
    done = []
    ex = open_executor(workers=workers)
    try:
        got = ex.map(_draw, with_seeds, on_done=lambda: done.append(1))
        assert got == expect and len(done) == 6
        assert ex.describe()["jobs"] == 6
    finally:
        ex.close()


def _draw(seed: int) -> int:
    return int(np.random.default_rng(seed).integers(1 << 30))


@pytest.mark.parametrize("workers", [1, 2])
def test_a_failing_job_is_named_with_its_seed_and_plugin(workers):
    from qaudit_attacks.refmodels import _train_one

    cls = get_host().get("model", get_host().role("model", "default"))
    pool = (np.random.default_rng(0).random((40, 64)), np.arange(40) % 2)
    jobs = [Job((cls, {"qubits": 4, "epochs": 1}, pool, np.arange(40), 2, 11, None), seed=11, origin="ok model"),
            Job((cls, {"qubits": "four"}, pool, np.arange(40), 2, 12, None), seed=12,
                origin="lira reference model 2")]
    with pytest.raises(JobFailed) as info:
        run(_train_one, jobs, n_jobs=workers)
    text = str(info.value)
    assert "job 2 of 2" in text and "lira reference model 2" in text and "seed 12" in text
    assert "plugin 'attacks'" in text and "qubits" in text and info.value.exit_code == 2


def test_run_jobs_keeps_its_signature():
    from qaudit.run.workers import run_jobs

    assert run_jobs(_draw, [(1,), (2,)], 1) == [_draw(1), _draw(2)]


# --------------------------------------------------------------------------- same answer everywhere
@pytest.fixture
def isolated(monkeypatch):
    monkeypatch.setenv("QAUDIT_CACHE_DIR", "off")
    monkeypatch.delenv("QAUDIT_SCHEDULER", raising=False)


def _report(run_qaudit, args, tmp_path, name):
    out = tmp_path / f"{name}.json"
    code, _, err = run_qaudit([*args, "-f", "json", "--output", str(out)])
    assert code in (0, 1), err
    return out.read_text()


def test_lira_and_sisa_reports_are_identical_on_every_executor(cluster, lira_model, sisa_model, run_qaudit,
                                                               tmp_path, isolated):
    executors = {"serial": ["--executor", "serial"], "local": ["--executor", "local"],
                 "dask": ["--executor", "dask", "--scheduler", cluster.scheduler_address]}
    lira = {name: _report(run_qaudit, ["leak", str(lira_model), "-a", "lira", "-K", "4", *flags], tmp_path,
                          f"lira-{name}") for name, flags in executors.items()}
    sisa, models = {}, {}
    for name, flags in executors.items():  # one --out path: it is part of the report
        sisa[name] = _report(run_qaudit, ["unlearn", str(sisa_model), "--method", "sisa", "--forget-class", "3",
                                          "--oracles", "2", "--out", str(tmp_path / "unlearned.json"), *flags],
                             tmp_path, f"sisa-{name}")
        models[name] = json.loads((tmp_path / "unlearned.json").read_text())
    for reports in (lira, sisa):
        docs = {name: json.dumps(_timeless(json.loads(text)), sort_keys=True) for name, text in reports.items()}
        assert docs["serial"] == docs["local"] == docs["dask"]
    assert json.loads(lira["serial"])["attacks"]["lira"]["details"]["reference_models"] == 4
    assert models["serial"]["params"] == models["local"]["params"] == models["dask"]["params"]


def test_a_used_model_still_pickles_for_a_worker(lira_model):
    """Jobs carry fitted attacks and verifiers holding the model; its compiled circuit (a cache with a
    closure) must not stop them (compare-unlearning on ``local`` failed that way)."""
    import pickle

    from qaudit.files import model_file as model_io

    model = model_io.load(lira_model).model
    X = np.random.default_rng(0).random((5, model.n_features_in))
    before = model.predict_proba(X)  # compiles the circuit
    assert model._compiled is not None
    copy = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(copy.predict_proba(X), before)


def test_null_calibration_runs_are_identical_on_every_executor(cluster, lira_model):
    from qaudit.files import model_file as model_io
    from qaudit.files.data import load_dataset
    from qaudit.leak.null_calibration import run_null_audits

    mf, ds = model_io.load(lira_model), load_dataset("digits")
    results = {}
    for name, scheduler in (("serial", None), ("dask", cluster.scheduler_address)):
        ex = open_executor(name, scheduler, 2)
        try:
            results[name] = run_null_audits(mf, ds, runs=3, half=50, n_bootstrap=50, executor=ex)
        finally:
            ex.close()
    assert results["serial"] == results["dask"]
    assert len({r["strongest_auc"] for r in results["serial"]}) == 3, "each run audits its own split"


@pytest.mark.slow
def test_compare_unlearning_is_identical_on_serial_and_local(lira_model, run_qaudit, tmp_path, isolated):
    args = ["compare-unlearning", str(lira_model), "--methods", "ga,finetune", "--seeds", "0,1", "--forget-class", "3"]
    docs = [json.dumps(_timeless(json.loads(_report(run_qaudit, [*args, "--executor", name], tmp_path, name))),
                       sort_keys=True) for name in ("serial", "local")]
    assert docs[0] == docs[1]


@pytest.mark.slow
def test_a_killed_dask_worker_does_not_change_the_report(lira_model, run_qaudit, tmp_path, isolated):
    _dask()
    from qaudit_executors.dask_executor import local_cluster

    serial = _report(run_qaudit, ["leak", str(lira_model), "-a", "lira", "-K", "8", "--executor", "serial"],
                     tmp_path, "serial")
    with local_cluster(2) as local:
        killed = []

        def kill_one_busy_worker():
            deadline = time.time() + 120
            while time.time() < deadline and not killed:
                busy = [ws for ws in list(local.scheduler.workers.values()) if ws.processing]
                if busy:
                    time.sleep(0.3)  # mid-job
                    nanny = next(n for n in local.workers.values() if n.worker_address == busy[0].address)
                    os.kill(nanny.process.process.pid, signal.SIGKILL)
                    killed.append(busy[0].address)
                time.sleep(0.05)

        killer = threading.Thread(target=kill_one_busy_worker, daemon=True)
        killer.start()
        dask = _report(run_qaudit, ["leak", str(lira_model), "-a", "lira", "-K", "8", "--executor", "dask",
                                    "--scheduler", local.scheduler_address], tmp_path, "dask")
        killer.join(5)
    assert killed, "no worker was killed mid-audit"
    assert json.dumps(_timeless(json.loads(dask)), sort_keys=True) == \
        json.dumps(_timeless(json.loads(serial)), sort_keys=True)


def test_ctrl_c_cancels_the_outstanding_dask_jobs(cluster):
    from qaudit_executors.dask_executor import DaskExecutor

    from qaudit.sdk.protocols import ExecutorSettings

    ex = DaskExecutor.open(ExecutorSettings(scheduler=cluster.scheduler_address))
    try:
        def interrupt():
            raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            ex.map(time.sleep, [Job((0.2,))] + [Job((30,)) for _ in range(6)], on_done=interrupt)
        deadline = time.time() + 10
        while time.time() < deadline and cluster.scheduler.tasks:
            time.sleep(0.1)
        assert not cluster.scheduler.tasks, "outstanding jobs were left running on the cluster"
    finally:
        ex.close()


# --------------------------------------------------------------------------- bad input
def test_an_unreachable_scheduler_is_one_line_within_ten_seconds(lira_model, run_qaudit, isolated):
    _dask()
    start = time.time()
    code, _, err = run_qaudit(["leak", str(lira_model), "-a", "loss", "--scheduler", "tcp://127.0.0.1:9"])
    assert code == 2 and time.time() - start < 10
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in one_line_error(err)


def test_workers_lacking_a_module_are_named(cluster):
    from qaudit_executors.dask_executor import DaskExecutor

    from qaudit.sdk.protocols import ExecutorSettings

    ex = DaskExecutor.open(ExecutorSettings(scheduler=cluster.scheduler_address))
    try:
        with pytest.raises(QauditError, match=r"Dask worker tcp://\S+ cannot import qaudit_missing_plugin"):
            ex._check_workers(["qaudit_missing_plugin"])
    finally:
        ex.close()


def test_dask_without_the_extra_says_how_to_install_it(lira_model, run_qaudit, monkeypatch, isolated):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed -> ImportError
    code, _, err = run_qaudit(["leak", str(lira_model), "-a", "loss", "--executor", "dask"])
    assert code == 2 and 'pip install "qaudit[dask]"' in one_line_error(err)


def test_an_unknown_executor_lists_the_installed_ones(lira_model, run_qaudit, isolated):
    code, _, err = run_qaudit(["leak", str(lira_model), "-a", "loss", "--executor", "slurm"])
    assert code == 2 and "unknown executor 'slurm'" in one_line_error(err) and "serial" in err
