"""Quantile-regression MIA (no reference models) beside LiRA (K reference models) on the MNIST HQNN.

MNIST test-set images (../shared/data/mnist or $QAUDIT_MNIST_DIR; skipped where absent), 1000
members / 500 holdout, seed 0, HQNN with 1 quantum layer and 25 epochs (the paper's setting, as in
benchmarks/leakage.py). Both attacks run in one held-out audit (5-fold cross-fitting for the
quantile attack, which fits on known non-members + the 8 500 unused MNIST images); printed: AUC
[95 % CI], TPR@1 %FPR (flagged with its interval when it rests on < 10 expected false positives),
the quantile attack's realised FPR at its own alpha = 1 % threshold, and seconds per attack.

``--digits`` runs the same comparison on a digits basic QNN (6 qubits x 5 layers, 40 epochs, 500
members / 500 holdout: LiRA's online reference models need as many samples as the target's members,
which the README's 1078-member demo model leaves no room for).

Usage: python benchmarks/quantile.py [--reference-models 4] [--jobs 1] [--digits]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from qaudit.leak.audit import AuditSettings, ground_truth, run_audit
from qaudit.files.data import load_dataset
from qaudit.leak.metrics import low_fpr_text
from qaudit.train.workflows import train_model

SHARED_MNIST = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference-models", "-K", type=int, default=4)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--digits", action="store_true")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()}")
    start = time.perf_counter()
    if args.digits:
        ds = load_dataset("digits")
        mf = train_model("basic-qnn", ds, n_train=500, n_holdout=500, seed=0,
                         options={"qubits": 6, "layers": 5, "epochs": 40})
    else:
        data_dir = Path(os.environ.get("QAUDIT_MNIST_DIR") or SHARED_MNIST)
        if not (data_dir / "t10k-images-idx3-ubyte.gz").is_file():
            print(f"skipped: MNIST not found in {data_dir}")
            sys.exit(0)
        ds = load_dataset("mnist", {"data_dir": str(data_dir)})
        mf = train_model("hqnn", ds, n_train=1000, n_holdout=500, seed=0, options={"layers": 1, "epochs": 25})
    print(f"target trained in {time.perf_counter() - start:.0f} s")
    start = time.perf_counter()
    rep = run_audit(mf, ds, ground_truth(mf, len(ds)),
                    AuditSettings(attacks=["quantile", "lira"], n_reference=args.reference_models,
                                  n_jobs=args.jobs, seed=0))
    print(f"audit in {time.perf_counter() - start:.0f} s (K = {args.reference_models} reference models for lira)")
    print("| attack | reference models | AUC [95 % CI] | TPR@1%FPR | FPR at own threshold | seconds |\n"
          "|---|---|---|---|---|---|")
    for name, run in rep.payload["attacks"].items():
        m, d = run["metrics"], run["details"]
        own = "" if "non_member_rate" not in d else f"{d['non_member_rate']:.4f} (alpha {d.get('alpha', '')})"
        refs = d.get("reference_models", 0)
        print(f"| {name} | {refs} | {m['auc']:.3f} [{m['auc_low']:.3f}, {m['auc_high']:.3f}] | "
              f"{low_fpr_text(m['operating_points']['tpr@1%fpr'])} | {own} | {run.get('seconds', '')} |")
    print(f"\n{rep.verdict}\nload average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
