"""Leakage of the paper's two models, measured with the held-out audit (issue 13 protocol).

MNIST test-set images, 1000 members / 500 holdout, seed 0, `qaudit train` defaults for each kind;
every member and non-member scored out of fold; AUC with bootstrap 95 % CI, Holm-adjusted p, TPR at
1 % FPR and distinguishability (95 %, delta 1e-5; not a DP bound) on the held-out test half; the paper's member rate on digit 4
and the same rate on non-members. Usage: python benchmarks/leakage.py [--reference-models 8]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from qaudit.leak.audit import AuditSettings, ground_truth, run_audit
from qaudit.files.data import load_dataset
from qaudit.train.workflows import train_model

SHARED_MNIST = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"
ATTACKS = ["loss", "gray-box", "shadow", "lira", "lira-offline", "rmia"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference-models", "-K", type=int, default=8)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    data_dir = os.environ.get("QAUDIT_MNIST_DIR") or str(SHARED_MNIST)
    ds = load_dataset("mnist", {"data_dir": data_dir})
    print("| target (member / holdout acc.) | attack | AUC [95 % CI] | adj. p | TPR@1%FPR | distinguishability | "
          "member rate (digit 4) | non-member rate |\n|---|---|---|---|---|---|---|---|")
    for kind, options, label in (("basic-qnn", {}, "basic QNN 8q×5L, 10 epochs"),
                                 ("hqnn", {"layers": 1, "epochs": 25}, "HQNN, 1 quantum layer, 25 epochs")):
        mf = train_model(kind, ds, n_train=1000, n_holdout=500, seed=0, options=options)
        start = time.perf_counter()
        rep = run_audit(mf, ds, ground_truth(mf, len(ds)),
                        AuditSettings(attacks=ATTACKS, n_reference=args.reference_models, n_jobs=args.jobs,
                                      forget_class=4, seed=0))
        seconds = time.perf_counter() - start
        s = rep.summary
        target = f"{label} ({s['member_accuracy']:.3f} / {s['non_member_accuracy']:.3f})"
        for name, run in rep.payload["attacks"].items():
            m, d = run["metrics"], run["details"]
            rate = "" if "member_rate" not in d else f"{d['member_rate']:.3f}"
            non = "" if "non_member_rate" not in d else f"{d['non_member_rate']:.3f}"
            print(f"| {target} | {name} | {m['auc']:.3f} [{m['auc_low']:.3f}, {m['auc_high']:.3f}] | "
                  f"{rep.payload['verdict']['adjusted_p_values'][name]:.2g} | {m['tpr@1%fpr']:.3f} | "
                  f"{m['distinguishability']:.2f} | {rate} | {non} |")
            target = "same"
        print(f"\n{label}: {rep.verdict} ({seconds:.0f} s)\n")


if __name__ == "__main__":
    main()
