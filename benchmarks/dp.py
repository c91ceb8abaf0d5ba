"""Differential privacy, measured (issue 18): what each mitigation buys and costs.

1. **Accuracy vs epsilon** -- the digits basic QNN (defaults: 8 qubits, 5 layers, 10 epochs, batch 32)
   trained without DP and with DP-SGD at several target epsilons (delta 1e-5, clip 1): holdout accuracy,
   training wall and CPU time, and the DP/plain time ratio (floor: <= 3 at epsilon 8).
2. **Audited epsilon vs DP noise** -- one-run audits (200 mislabelled canaries, loss attack, 95 %) of a
   small basic QNN that memorises them (6 qubits, 10 layers, 60 epochs, 50 members), without DP and at
   several target epsilons, three seeds each: claimed epsilon, audited epsilon lower bound, canary AUC.
3. **Audited epsilon vs shots** -- the same non-DP model, the attacker's queries shot-estimated.
4. Optionally (``--hqnn``) the MNIST HQNN from ../shared/data/mnist (or $QAUDIT_MNIST_DIR): accuracy
   without DP and at epsilon 8.

The machine is shared: the load average is printed with every timing.

Usage: python benchmarks/dp.py [--seeds 3] [--hqnn] [--hqnn-epochs 5] [--skip-accuracy] [--skip-audits]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

from qaudit.data import load_dataset, split
from qaudit.dp.audit import DPAuditSettings, run_dp_audit
from qaudit.dp.sgd import private_fit
from qaudit.dp.spec import DPSpec
from qaudit.plugins import get_host
from qaudit.query import predict_proba

SHARED_MNIST = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"
AUDIT = {"canaries": 200, "n_train": 50, "n_holdout": 200, "options": {"epochs": 60, "qubits": 6, "layers": 10}}


def load() -> str:
    return "load {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def train_once(kind: str, ds, members, holdout, options: dict, eps: float | None) -> tuple[float, float, float]:
    """(holdout accuracy, wall s, CPU s) of one training run."""
    model = get_host().get("model", kind).from_options({**options, "seed": 0})
    if hasattr(model, "data_kind"):
        model.data_kind = ds.kind
    wall, cpu = time.perf_counter(), time.process_time()
    if eps is None:
        model.fit(ds.X[members], ds.y[members], n_classes=ds.n_classes)
    else:
        private_fit(model, ds.X[members], ds.y[members], n_classes=ds.n_classes, spec=DPSpec(epsilon=eps), seed=0)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    acc = float(np.mean(np.argmax(predict_proba(model, ds.X[holdout]), axis=1) == ds.y[holdout]))
    return acc, wall, cpu


def accuracy_vs_epsilon(kind: str, ds, members, holdout, options: dict, epsilons: list, title: str) -> None:
    print(f"\n## {title}  ({len(members)} members, {len(holdout)} holdout)\n")
    print("| ε (target) | holdout accuracy | wall s | CPU s | CPU / plain | load (1/5/15 min) |")
    print("|---|---|---|---|---|---|")
    plain_cpu = None
    for eps in epsilons:
        acc, wall, cpu = train_once(kind, ds, members, holdout, options, eps)
        plain_cpu = cpu if eps is None else plain_cpu
        print(f"| {'no DP' if eps is None else eps} | {acc:.3f} | {wall:.1f} | {cpu:.1f} | {cpu / plain_cpu:.2f} | "
              f"{load()} |", flush=True)


def audits(ds, seeds: int, epsilons: list, shots_list: list) -> None:
    print("\n## One-run audits: audited ε vs DP noise (200 mislabelled canaries, loss attack, 95 %)\n")
    print("| ε (target) | seed | claimed ε | audited ε ≥ | correct guesses | canary AUC | holdout acc | wall s |")
    print("|---|---|---|---|---|---|---|---|")
    for eps in epsilons:
        for seed in range(seeds):
            start = time.perf_counter()
            r = run_dp_audit(DPAuditSettings(model="basic-qnn", attacks=["loss"], seed=seed,
                                             dp=None if eps is None else DPSpec(epsilon=eps), **AUDIT), ds)
            s = r.summary
            auc = r.payload["audit_dp"]["bounds"][0]["auc"]
            claimed = "-" if s["claimed_epsilon"] is None else f"{s['claimed_epsilon']:.2f}"
            print(f"| {'no DP' if eps is None else eps} | {seed} | {claimed} | {s['audited_epsilon']:.2f} | "
                  f"{s['correct_guesses']} | {auc:.3f} | {s['holdout_accuracy']:.3f} | "
                  f"{time.perf_counter() - start:.1f} |", flush=True)
    print("\n## One-run audits: audited ε vs shots (no DP, same model and canaries, seed 0)\n")
    print("| shots | audited ε ≥ | correct guesses | canary AUC |")
    print("|---|---|---|---|")
    for shots in shots_list:
        r = run_dp_audit(DPAuditSettings(model="basic-qnn", attacks=["loss"], seed=0, shots=shots, **AUDIT), ds)
        s = r.summary
        auc = r.payload["audit_dp"]["bounds"][0]["auc"]
        print(f"| {shots or 'exact'} | {s['audited_epsilon']:.2f} | {s['correct_guesses']} | {auc:.3f} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--hqnn", action="store_true")
    parser.add_argument("--hqnn-epochs", type=int, default=5)
    parser.add_argument("--skip-accuracy", action="store_true")
    parser.add_argument("--skip-audits", action="store_true")
    args = parser.parse_args()
    now = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    print(f"# benchmarks/dp.py  ({os.cpu_count()} cores, {load()}, {now})")
    ds = load_dataset("digits")
    if not args.skip_accuracy:
        members, holdout = split(ds.y, None, None, 0)
        accuracy_vs_epsilon("basic-qnn", ds, members, holdout, {}, [None, 8.0, 4.0, 2.0, 1.0],
                            "Digits basic QNN (8 qubits x 5 layers, 10 epochs): accuracy vs ε")
    if not args.skip_audits:
        audits(ds, args.seeds, [None, 8.0, 2.0, 0.5], [None, 1024, 128, 16])
    if args.hqnn:
        mnist = Path(os.environ.get("QAUDIT_MNIST_DIR", SHARED_MNIST))
        ds = load_dataset("mnist", {"data_dir": str(mnist)})
        members, holdout = split(ds.y, 1000, 500, 0)
        accuracy_vs_epsilon("hqnn", ds, members, holdout, {"epochs": args.hqnn_epochs}, [None, 8.0],
                            f"MNIST HQNN (1 quantum layer, {args.hqnn_epochs} epochs): accuracy vs ε")


if __name__ == "__main__":
    main()
