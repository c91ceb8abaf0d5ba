"""Calibration of the leak verdict (issue 13): null audits and positive controls, measured.

* **Null audits**: a model's holdout (never trained on) is split at random into disjoint
  "members" and "non-members" many times; each split is audited with the default attacks.
  Every LEAKS verdict and every distinguishability > 0 is a false positive. Reported: the rates with
  Clopper-Pearson 95 % intervals; the floor is that each interval's lower end is <= 5 %.
  Digits always; MNIST too when ../shared/data/mnist (or $QAUDIT_MNIST_DIR) exists.
* **Positive controls**: basic QNNs trained on shuffled labels (they can only memorise) must LEAK
  for every seed; the paper's HQNN (MNIST, 1 quantum layer, 25 epochs) must LEAK.

The null audits are independent jobs on an executor (``qaudit.leak.null_calibration``; ``--executor local`` uses
every core, ``--executor dask --scheduler tcp://...`` a cluster); the counts do not depend on it.

Usage: python benchmarks/calibration.py [--runs 100] [--mnist-runs 50] [--controls 5] [--skip-hqnn] [--small]
       [--executor serial|local|dask] [--scheduler ADDRESS]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

from qaudit.leak.audit import AuditSettings, ground_truth, run_audit
from qaudit.leak.null_calibration import run_null_audits
from qaudit.files.data import Dataset, load_dataset
from qaudit.leak.metrics import clopper_pearson
from qaudit.train.workflows import train_model

SHARED_MNIST = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"


def mnist_dir() -> Path | None:
    path = Path(os.environ.get("QAUDIT_MNIST_DIR", SHARED_MNIST))
    return path if (path / "t10k-images-idx3-ubyte.gz").is_file() else None


def null_audits(mf, ds, runs: int, half: int, label: str, executor=None) -> list[str]:
    start = time.perf_counter()
    results = run_null_audits(mf, ds, runs, half, seed=2024, n_bootstrap=200, executor=executor)
    seconds = time.perf_counter() - start
    leaks = sum(r["leaks"] for r in results)
    eps = sum(r["distinguishability_positive"] for r in results)
    rows = []
    for name, k in (("LEAKS verdicts", leaks), ("distinguishability > 0 (any attack)", eps)):
        lo, hi = clopper_pearson(k, runs, 0.05)
        ok = "yes" if float(lo) <= 0.05 else "NO"
        rows.append(f"| {label} | {name} | {k} / {runs} | {k / runs:.3f} | [{float(lo):.3f}, {float(hi):.3f}] | {ok} |")
    mean_auc = np.mean([r["strongest_auc"] for r in results])
    print(f"{label}: {runs} null audits in {seconds:.0f} s; mean strongest AUC {mean_auc:.3f}")
    return rows


def shuffled_control(seed: int) -> tuple[bool, float]:
    digits = load_dataset("digits")
    rng = np.random.default_rng(seed)
    idx = rng.permutation(len(digits))[:700]
    ds = Dataset("digits-shuffled", digits.X[idx], rng.integers(0, 10, size=700), image_shape=digits.image_shape)
    mf = train_model("basic-qnn", ds, n_train=40, n_holdout=200, seed=seed,
                     options={"qubits": 4, "layers": 3, "epochs": 60, "lr": 0.1, "batch_size": 8})
    rep = run_audit(mf, ds, ground_truth(mf, len(ds)), AuditSettings(seed=seed, n_bootstrap=200))
    return bool(rep.summary["leaks"]), max(m["auc"] for m in rep.measurements.values())


def hqnn_control(data_dir: Path) -> tuple[bool, str]:
    ds = load_dataset("mnist", {"data_dir": str(data_dir)})
    mf = train_model("hqnn", ds, n_train=1000, n_holdout=500, seed=0, options={"layers": 1, "epochs": 25})
    rep = run_audit(mf, ds, ground_truth(mf, len(ds)), AuditSettings(seed=0))
    return bool(rep.summary["leaks"]), rep.verdict


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--mnist-runs", type=int, default=50)
    parser.add_argument("--controls", type=int, default=5)
    parser.add_argument("--skip-hqnn", action="store_true")
    parser.add_argument("--small", action="store_true",
                        help="small, quickly trained targets (digits 4 q x 3 l x 10 epochs, MNIST 6 q x 3 l x 3 "
                             "epochs): "
                             "the null audits' reference models (RMIA is in the default audit) then cost little")
    parser.add_argument("--executor", default=None, help="serial | local | dask (default: the default role)")
    parser.add_argument("--scheduler", default=None, help="a Dask scheduler address for --executor dask")
    args = parser.parse_args()
    from qaudit.run.parallel import open_executor

    executor = open_executor(args.executor, args.scheduler)
    try:
        run_tables(args, executor)
    finally:
        executor.close()


def run_tables(args: argparse.Namespace, executor) -> None:
    rows = ["| model | false positives | count | rate | Clopper-Pearson 95 % | lower end <= 5 %? |",
            "|---|---|---|---|---|---|"]
    digits = load_dataset("digits")
    q, layers, epochs = (4, 3, 10) if args.small else (6, 5, 40)
    mf = train_model("basic-qnn", digits, n_train=500, n_holdout=1000, seed=0,
                     options={"qubits": q, "layers": layers, "epochs": epochs})
    print(f"null audits with the default attacks: {', '.join(AuditSettings().attacks)}")
    rows += null_audits(mf, digits, args.runs, 250, f"digits basic QNN ({q} q x {layers} l x {epochs} epochs, "
                        "500 members)", executor)
    data_dir = mnist_dir()
    if data_dir is not None and args.mnist_runs:
        mnist = load_dataset("mnist", {"data_dir": str(data_dir)})
        options = {"qubits": 6, "layers": 3, "epochs": 3} if args.small else {"epochs": 10}
        shape = "6 q x 3 l x 3 epochs" if args.small else "8 q x 5 l x 10 epochs"
        mf = train_model("basic-qnn", mnist, n_train=1000, n_holdout=2000, seed=0, options=options)
        rows += null_audits(mf, mnist, args.mnist_runs, 500, f"MNIST basic QNN ({shape}, 1000 members)", executor)
    print("\n".join(rows))
    print("\n| positive control | seed | LEAKS | strongest AUC |\n|---|---|---|---|")
    for seed in range(args.controls):
        leaks, auc = shuffled_control(seed)
        print(f"| basic QNN on shuffled labels (40 members) | {seed} | {'yes' if leaks else 'NO'} | {auc:.3f} |")
    if data_dir is not None and not args.skip_hqnn:
        leaks, verdict = hqnn_control(data_dir)
        word = "LEAKS" if leaks else "NO LEAK"
        print(f"\nHQNN at paper settings (MNIST, 1000 members, 25 epochs): {word} -- {verdict}")


if __name__ == "__main__":
    main()
