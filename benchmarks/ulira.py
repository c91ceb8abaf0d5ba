"""U-LiRA on the digits basic QNN (issue 17): time, AUC, verdict per unlearning method; ranking across seeds.

Target: `qaudit train --model basic-qnn --dataset digits --qubits 6 --layers 5 --epochs 40` (seed 0,
the README's demo model); 50 random members (seed 0) are the audited forget set. All methods share
the K shadow pairs (originals and retrains are trained once; each method unlearns the same
originals), serially (one process). Per method: U-MIA AUC [95 % CI], permutation p, TPR@1 %FPR,
identifiable records, and the seconds of the pair steps; the time one single-method run would take
is train + retrain + that method's seconds (+ the analysis). Prints the load average before/after.

Usage: python benchmarks/ulira.py [-K 32] [--methods ga,ssd,rga,finetune,retrain] [--seeds 0]
       python benchmarks/ulira.py --hqnn ../shared/data/mnist -K 8     # the MNIST HQNN at paper settings
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from qaudit.unlearn import ulira
from qaudit.files.data import load_dataset
from qaudit.train.workflows import train_model

OPTIONS = {"qubits": 6, "layers": 5, "epochs": 40}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-K", type=int, default=32)
    parser.add_argument("--methods", default="ga,ssd,rga,finetune,retrain")
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--forget", type=int, default=50)
    parser.add_argument("--hqnn", metavar="MNIST_DIR", help="audit the MNIST HQNN (1000 members, 500 holdout, "
                        "paper settings) instead of the digits basic QNN")
    args = parser.parse_args()
    methods = [m for m in args.methods.split(",") if m]
    print(f"load average before: {os.getloadavg()}")
    start = time.perf_counter()
    if args.hqnn:
        ds = load_dataset("mnist", {"data_dir": args.hqnn})
        mf = train_model("hqnn", ds, n_train=1000, n_holdout=500, seed=0, options={})
    else:
        ds = load_dataset("digits")
        mf = train_model("basic-qnn", ds, seed=0, options=OPTIONS)
    print(f"target trained in {time.perf_counter() - start:.1f} s ({len(mf.data.members)} members)")
    forget = np.sort(np.random.default_rng(0).choice(mf.data.members, args.forget, replace=False))
    print("| seed | method | U-MIA AUC [95 % CI] | permutation p | verdict | TPR@1%FPR | identifiable | "
          "single-method seconds (train + retrain + method + analysis) |\n|---|---|---|---|---|---|---|---|")
    ranks = {}
    for seed in (int(s) for s in args.seeds.split(",")):
        start, cpu = time.perf_counter(), time.process_time()
        results = ulira.audit_methods(mf, ds, forget, {m: {} for m in methods}, args.K, seed)
        wall = time.perf_counter() - start
        pair_wall = next(iter(results.values())).seconds
        analysis = (wall - pair_wall) / len(methods)
        for m, r in results.items():
            s, sec = r.summary, r.details["pair_seconds"]
            single = sec["original"] + sec["retrained"] + sec["method"] + analysis
            tpr = ulira_tpr(s)
            print(f"| {seed} | {m} | {s['auc']:.3f} [{s['auc_low']:.3f}, {s['auc_high']:.3f}] | {r.p_value:.3g} | "
                  f"{'distinguishable' if r.distinguishable else 'indistinguishable'} | {tpr} | "
                  f"{int(r.identifiable.sum())} / {r.audit_ids.size} | {single:.0f} "
                  f"({sec['original']:.0f} + {sec['retrained']:.0f} + {sec['method']:.0f} + {analysis:.0f}) |")
        order = sorted(results, key=lambda m: results[m].summary["auc"])
        ranks[seed] = order
        print(f"\nseed {seed}: all {len(methods)} methods on {args.K} shared pairs in {wall:.0f} s wall, "
              f"{time.process_time() - cpu:.0f} s CPU; "
              f"ranking (least distinguishable first): {' < '.join(order)}\n")
    if len(ranks) > 1:
        same = len({tuple(o) for o in ranks.values()}) == 1
        print(f"ranking {'identical' if same else 'NOT identical'} across seeds {sorted(ranks)}: {ranks}")
    print(f"load average after: {os.getloadavg()}; process CPU {time.process_time():.0f} s")


def ulira_tpr(summary: dict) -> str:
    from qaudit.leak.metrics import low_fpr_text

    return low_fpr_text(summary["operating_points"]["tpr@1%fpr"])


if __name__ == "__main__":
    main()
