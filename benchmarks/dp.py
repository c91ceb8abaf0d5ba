"""Differential privacy, measured (issue 18): what each mitigation buys and costs.

1. **Accuracy vs epsilon** -- the digits basic QNN (defaults: 8 qubits, 5 layers, 10 epochs, batch 32)
   trained without DP and with DP-SGD at several target epsilons (delta 1e-5, clip 1): holdout accuracy,
   training wall and CPU time, and the DP/plain time ratio (floor: <= 3 at epsilon 8).
2. **Audited epsilon vs DP noise** -- one-run audits (200 mislabelled canaries, loss attack, 95 %), without
   DP and at several target epsilons, three seeds each: claimed epsilon, audited epsilon lower bound, the
   largest epsilon this audit could show (every guess correct), canary AUC, holdout accuracy. Two settings:
   ``learning`` -- 1000 members, 6 qubits x 10 layers, 10 epochs, batch 64, lr 0.2, where the DP models learn
   (holdout accuracy well above the 10 % of chance) -- and ``memorising`` -- 50 members, 60 epochs, where
   the non-DP model memorises the canaries (the audit's power) but the DP models learn nothing.
3. **Audited epsilon vs shots** -- the memorising non-DP model, the attacker's queries shot-estimated.
4. Optionally (``--hqnn``) the MNIST HQNN from ../shared/data/mnist (or $QAUDIT_MNIST_DIR): accuracy
   without DP and at epsilon 8.

The machine is shared: the load average is printed with every timing.

Usage: python benchmarks/dp.py [--seeds 3] [--hqnn] [--hqnn-epochs 5] [--skip-accuracy] [--skip-audits]
       [--settings learning,memorising] [--epsilons none,8,2,1] [--skip-shots]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

from qaudit.files.data import load_dataset, split
from qaudit.dp.audit import DPAuditSettings, run_dp_audit
from qaudit.dp.sgd import private_fit
from qaudit.dp.spec import DPSpec
from qaudit.sdk.host import get_host
from qaudit.run.query import predict_proba

SHARED_MNIST = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"
AUDITS = {
    "learning": {"canaries": 200, "n_train": 1000, "n_holdout": 397,
                 "options": {"epochs": 10, "qubits": 6, "layers": 10, "lr": 0.2, "batch_size": 64}},
    "memorising": {"canaries": 200, "n_train": 50, "n_holdout": 200,
                   "options": {"epochs": 60, "qubits": 6, "layers": 10}},
}


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


def ceiling(m: int, attacks: int = 1, confidence: float = 0.95, delta: float = 1e-5) -> float:
    """The largest epsilon the audit can show: every guess correct, at the audit's Bonferroni level."""
    from qaudit.dp import one_run
    from qaudit.dp.audit import guess_grid

    grid = guess_grid(m, None)
    return max(one_run.epsilon_lower_bound(m, 2 * k, 2 * k, delta, (1 - confidence) / (attacks * len(grid)))
               for k in grid)


def audits(ds, seeds: int, epsilons: list, setting: str) -> None:
    audit = AUDITS[setting]
    o = audit["options"]
    print(f"\n## One-run audits ({setting}): audited ε vs DP noise (200 mislabelled canaries, loss attack, 95 %; "
          f"{audit['n_train']} members, {o['qubits']} qubits x {o['layers']} layers, {o['epochs']} epochs, "
          f"batch {o.get('batch_size', 32)}, lr {o.get('lr', 0.05)})\n")
    print(f"Largest ε this audit can show (every guess correct): {ceiling(audit['canaries']):.2f}\n")
    print("| ε (target) | seed | claimed ε | audited ε ≥ | correct guesses | canary AUC | holdout acc | wall s "
          "| load |")
    print("|---|---|---|---|---|---|---|---|---|")
    for eps in epsilons:
        for seed in range(seeds):
            start = time.perf_counter()
            r = run_dp_audit(DPAuditSettings(model="basic-qnn", attacks=["loss"], seed=seed,
                                             dp=None if eps is None else DPSpec(epsilon=eps), **audit), ds)
            s = r.summary
            auc = r.payload["audit_dp"]["bounds"][0]["auc"]
            claimed = "-" if s["claimed_epsilon"] is None else f"{s['claimed_epsilon']:.2f}"
            print(f"| {'no DP' if eps is None else eps} | {seed} | {claimed} | {s['audited_epsilon']:.2f} | "
                  f"{s['correct_guesses']} | {auc:.3f} | {s['holdout_accuracy']:.3f} | "
                  f"{time.perf_counter() - start:.1f} | {load()} |", flush=True)


def shots_audits(ds, shots_list: list) -> None:
    print("\n## One-run audits: audited ε vs shots (no DP, memorising setting, same model and canaries, seed 0)\n")
    print("| shots | audited ε ≥ | correct guesses | canary AUC |")
    print("|---|---|---|---|")
    for shots in shots_list:
        r = run_dp_audit(DPAuditSettings(model="basic-qnn", attacks=["loss"], seed=0, shots=shots,
                                         **AUDITS["memorising"]), ds)
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
    parser.add_argument("--skip-shots", action="store_true")
    parser.add_argument("--settings", default="learning,memorising")
    parser.add_argument("--epsilons", default="none,8,2,0.5")
    args = parser.parse_args()
    now = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    print(f"# benchmarks/dp.py  ({os.cpu_count()} cores, {load()}, {now})")
    ds = load_dataset("digits")
    if not args.skip_accuracy:
        members, holdout = split(ds.y, None, None, 0)
        accuracy_vs_epsilon("basic-qnn", ds, members, holdout, {}, [None, 8.0, 4.0, 2.0, 1.0],
                            "Digits basic QNN (8 qubits x 5 layers, 10 epochs): accuracy vs ε")
    if not args.skip_audits:
        epsilons = [None if e.strip().lower() == "none" else float(e) for e in args.epsilons.split(",")]
        for setting in args.settings.split(","):
            audits(ds, args.seeds, epsilons, setting.strip())
    if not args.skip_shots:
        shots_audits(ds, [None, 1024, 128, 16])
    if args.hqnn:
        mnist = Path(os.environ.get("QAUDIT_MNIST_DIR", SHARED_MNIST))
        ds = load_dataset("mnist", {"data_dir": str(mnist)})
        members, holdout = split(ds.y, 1000, 500, 0)
        accuracy_vs_epsilon("hqnn", ds, members, holdout, {"epochs": args.hqnn_epochs}, [None, 8.0],
                            f"MNIST HQNN (1 quantum layer, {args.hqnn_epochs} epochs): accuracy vs ε")


if __name__ == "__main__":
    main()
