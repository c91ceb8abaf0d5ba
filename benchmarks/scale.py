"""Benchmark issue 16 (scale out): executors, scaling, memory, wide circuits -- numbers measured in one run.

1. LiRA with K=16 reference models on the same target under ``serial``, ``local`` (2 worker processes)
   and ``dask`` (a LocalCluster of 2 single-threaded worker processes), whole audit wall time
   (executor start-up included), speed-up against ``serial`` measured in the same run, and the pickled
   bytes shipped per job. Floor: local and dask >= 1.6x serial on 2 cores. The three JSON reports are
   compared (timings aside): they must be identical.
2. Scaling curve: K = 16 / 32 / 64 on a simulated cluster (a LocalCluster with W single-threaded
   workers; W = the machine's cores), seconds per reference model.
3. Peak RSS of a 60,000-sample audit (synthetic MNIST-size data, 784 features, loss + confidence
   attacks), measured as the child's ``ru_maxrss``. Floor: <= 2 GB.
4. The 20-qubit forward pass (qsim, chosen automatically) on 8 samples, and a 12-qubit training epoch.

Usage: python benchmarks/scale.py [--only 1,2,3,4]. Prints the load average: the machine may be shared.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

QAUDIT = str(Path(sys.executable).parent / "qaudit")


def _timeless(doc):
    """The report without timings and the command line (they legitimately differ between executors)."""
    from qaudit.sdk.testing import timeless

    return timeless(doc, drop=("command",))


def _target(n_train: int, epochs: int, qubits: int, layers: int):
    from qaudit.files.data import load_dataset
    from qaudit.train.workflows import train_model

    ds = load_dataset("digits")
    mf = train_model("basic-qnn", ds, n_train=n_train, n_holdout=n_train, seed=1,
                     options={"qubits": qubits, "layers": layers, "epochs": epochs})
    return mf, ds


def _audit(mf, ds, K: int, executor) -> tuple[float, dict]:
    from qaudit.leak.audit import AuditSettings, ground_truth, run_audit

    settings = AuditSettings(attacks=["lira"], seed=0, n_reference=K, n_jobs=1, n_bootstrap=200)
    start = time.perf_counter()
    report = run_audit(mf, ds, ground_truth(mf, len(ds)), settings, executor=executor)
    return time.perf_counter() - start, report.to_json()


def _dask_cluster(workers: int):
    from qaudit_executors.dask_executor import local_cluster

    return local_cluster(workers)


def executors_section() -> None:
    from qaudit.run.parallel import open_executor

    mf, ds = _target(n_train=800, epochs=40, qubits=8, layers=3)
    K = 16
    rows, docs = [], {}
    for name in ("serial", "local", "dask"):
        cluster = _dask_cluster(2) if name == "dask" else None
        start = time.perf_counter()  # connecting / starting worker processes counts; starting the cluster not
        ex = open_executor(name, cluster.scheduler_address if cluster else None, 2)
        try:
            _, doc = _audit(mf, ds, K, ex)
            seconds = time.perf_counter() - start
            info = ex.describe()
        finally:
            ex.close()
            if cluster is not None:
                cluster.close()
        docs[name] = json.dumps(_timeless(doc), sort_keys=True)
        rows.append((name, seconds, info))
    base = rows[0][1]
    print(f"## 1. LiRA K={K}, 800 members (digits), 8 qubits x 3 layers, 40 epochs per reference model")
    print("| executor | workers | wall s | speed-up vs serial | bytes shipped per job |")
    print("|---|---|---|---|---|")
    for name, seconds, info in rows:
        per_job = info["shipped_bytes"] / max(info["jobs"], 1)
        print(f"| {name} | {info['workers']} | {seconds:.1f} | {base / seconds:.2f}x | {per_job:,.0f} |")
    same = docs["serial"] == docs["local"] == docs["dask"]
    print(f"\nreports identical (timings aside): {same}")


def scaling_section() -> None:
    from qaudit.run.parallel import open_executor

    mf, ds = _target(n_train=200, epochs=10, qubits=6, layers=2)
    workers = len(os.sched_getaffinity(0))
    cluster = _dask_cluster(workers)
    ex = open_executor("dask", cluster.scheduler_address, workers)
    _audit(mf, ds, 2, ex)  # warm-up: the workers import qaudit and the plugins once
    print(f"\n## 2. Scaling on a simulated cluster (LocalCluster, {workers} single-threaded workers, warmed up), "
          "200 members, 6 qubits x 2 layers, 10 epochs")
    print("| K | wall s | s per reference model |")
    print("|---|---|---|")
    try:
        for K in (16, 32, 64):
            seconds, _ = _audit(mf, ds, K, ex)
            print(f"| {K} | {seconds:.1f} | {seconds / K:.2f} |")
    finally:
        ex.close()
        cluster.close()


def memory_section() -> None:
    import numpy as np

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        rng = np.random.default_rng(0)
        n = 60000
        y = rng.integers(0, 10, n)
        X = (rng.random((10, 784))[y] + 0.5 * rng.random((n, 784))).astype(np.float32)
        np.savez(folder / "synth.npz", X=X, y=y)
        del X
        np.savetxt(folder / "members.txt", np.arange(0, n // 2), fmt="%d")
        np.savetxt(folder / "non.txt", np.arange(n // 2, n), fmt="%d")
        subprocess.run([QAUDIT, "train", "--dataset", str(folder / "synth.npz"), "--qubits", "6", "--layers", "1",
                        "--epochs", "1", "--n-train", "300", "--n-holdout", "300", "--out", str(folder / "m.json")],
                       check=True, capture_output=True)
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        start = time.perf_counter()
        proc = subprocess.run([QAUDIT, "leak", str(folder / "m.json"), "--dataset", str(folder / "synth.npz"),
                               "--members", str(folder / "members.txt"), "--non-members", str(folder / "non.txt"),
                               "-a", "loss,confidence", "-f", "json", "-o", str(folder / "leak.json")],
                              capture_output=True, text=True)
        wall = time.perf_counter() - start
        peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        if proc.returncode not in (0, 1):
            raise SystemExit(proc.stderr)
    note = "" if peak_kb > before else " (not above the earlier child's peak; re-run with --only 3)"
    print("\n## 3. 60,000-sample audit (synthetic 784-feature data, 30,000 members + 30,000 non-members)")
    print(f"peak RSS {peak_kb / 1024:.0f} MiB (floor 2048 MiB), wall {wall:.1f} s{note}")


def wide_section() -> None:
    import numpy as np

    from qaudit.files.data import load_dataset
    from qaudit.run.query import predict_proba
    from qaudit.train.workflows import train_model

    ds = load_dataset("digits")
    print("\n## 4. Wide circuits")
    for qubits, epochs, label in ((12, 1, "trains"), (20, None, "evaluates")):
        if epochs:
            start = time.perf_counter()
            train_model("basic-qnn", ds, n_train=40, n_holdout=20, seed=0,
                        options={"qubits": qubits, "layers": 1, "epochs": epochs})
            print(f"{qubits} qubits {label}: 1 epoch on 40 samples in {time.perf_counter() - start:.1f} s")
        else:
            from qaudit.sdk.host import get_host

            cls = get_host().get("model", "basic-qnn")
            model = cls(qubits=qubits, layers=1)
            model.initialise(ds.X[:40], ds.y[:40], n_classes=10)
            start = time.perf_counter()
            probs = predict_proba(model, ds.X[:8])
            print(f"{qubits} qubits {label}: forward pass on 8 samples in {time.perf_counter() - start:.1f} s "
                  f"(probabilities sum to {float(np.sum(probs[0])):.6f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="1,2,3,4")
    sections = {s.strip() for s in parser.parse_args().only.split(",")}
    print(f"load average before: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f} "
          f"on {os.cpu_count()} cores")
    for key, section in (("1", executors_section), ("2", scaling_section), ("3", memory_section),
                         ("4", wide_section)):
        if key in sections:
            section()
    print(f"\nload average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
