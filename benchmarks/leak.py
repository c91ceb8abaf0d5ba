"""Benchmark `qaudit leak` against its floors, with references measured in the same run.

1. Fast audit: `qaudit leak model.json --shots 1024 -a gray-box,loss,confidence` on a 1000-member
   digits basic QNN, end to end (process start to exit). Reference: `qaudit evaluate model.json`
   end to end (start-up + model load + one pass over the data). Floor: <= 10 s.
2. Reference-model attacks: `-a lira,lira-offline,rmia -K 16` on the basic QNN with 1000 members
   (MNIST when ../shared/data/mnist or $QAUDIT_MNIST_DIR exists, else digits). Reference:
   training the target itself once (`qaudit train`, same data and options), so the ratio reads as
   "target trainings' worth of time". Floor: <= 180 s on 2 cores.

3. Shot-aware LiRA (``--shot-aware``): a QNN trained on random labels (memorises its members), audited
   at 16 / 64 / 256 shots with LiRA's shot-noise term on and off (same seeds, same reference models'
   training sets). Reference: the same attack on exact outputs.

Wall time is what the floor is about; CPU time (user + sys of the child) is printed too because
the machine may be shared. Usage: python benchmarks/leak.py [--skip-lira]
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

QAUDIT = str(Path(sys.executable).parent / "qaudit")


def run(args: list[str]) -> tuple[float, float]:
    """(wall seconds, child CPU seconds) of one qaudit invocation; raises on failure (exit 1 is fine)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run([QAUDIT, *args], capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"qaudit {' '.join(args)} failed:\n{proc.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def shot_aware() -> None:
    """Section 3: AUC of LiRA with and without the shot-noise variance term."""
    import numpy as np

    from qaudit.leak.audit import AuditSettings, ground_truth, run_audit
    from qaudit.files.data import Dataset, load_dataset
    from qaudit.train.workflows import train_model

    digits = load_dataset("digits")
    y = np.random.default_rng(0).integers(0, 10, size=len(digits))
    ds = Dataset("digits-random-labels", digits.X, y, image_shape=digits.image_shape)
    mf = train_model("basic-qnn", ds, n_train=100, n_holdout=400, seed=0,
                     options={"qubits": 5, "layers": 6, "epochs": 60, "lr": 0.2, "batch_size": 20})
    truth = ground_truth(mf, len(ds))
    print("| shots | LiRA AUC, shot-noise term | LiRA AUC, no term | TPR@10%FPR with / without |")
    print("|---|---|---|---|")
    for shots in (16, 64, 256, None):
        res = []
        for noise in (True, False):
            settings = AuditSettings(attacks=["lira"], shots=shots, n_reference=16, n_jobs=2, seed=0,
                                     attack_options={"lira.shot_noise": noise})
            res.append(run_audit(mf, ds, truth, settings).measurements["lira"])
            if shots is None:
                res.append(res[0])
                break
        (a, b) = res[:2]
        print(f"| {shots or 'exact'} | {a['auc']:.3f} [{a['auc_low']:.3f}, {a['auc_high']:.3f}] | "
              f"{b['auc']:.3f} [{b['auc_low']:.3f}, {b['auc_high']:.3f}] | "
              f"{a['tpr@10%fpr']:.3f} / {b['tpr@10%fpr']:.3f} |")


def main() -> None:
    if "--shot-aware" in sys.argv:
        shot_aware()
        return
    skip_lira = "--skip-lira" in sys.argv
    work = Path(tempfile.mkdtemp(prefix="qaudit-bench-leak-"))
    rows = []
    digits = work / "digits.json"
    wall_train_d, cpu_train_d = run(["train", "--dataset", "digits", "--n-train", "1000", "--n-holdout", "500",
                                     "--out", str(digits)])
    ev = run(["evaluate", str(digits)])
    fast = run(["leak", str(digits), "--shots", "1024", "-a", "gray-box,loss,confidence", "-f", "json",
                "-o", str(work / "fast.json")])
    rows.append(("leak --shots 1024 gray-box,loss,confidence (digits, 1000 members)", fast, ev,
                 "qaudit evaluate", 10.0))
    if not skip_lira:
        shared_mnist = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"
        mnist = os.environ.get("QAUDIT_MNIST_DIR") or str(shared_mnist)
        if Path(mnist).is_dir():
            data = ["--dataset", "mnist", "--data-dir", mnist]
            label = "MNIST"
        else:
            data, label = ["--dataset", "digits"], "digits"
        target = work / "target.json"
        train = run(["train", *data, "--n-train", "1000", "--n-holdout", "500", "--out", str(target)])
        extra = ["--data-dir", mnist] if label == "MNIST" else []
        lira = run(["leak", str(target), *extra, "-a", "lira,lira-offline,rmia", "-K", "16", "--jobs", "2",
                    "-f", "json", "-o", str(work / "lira.json")])
        rows.append((f"leak lira,lira-offline,rmia -K 16 --jobs 2 ({label}, 1000 members)", lira, train,
                     "train target once", 180.0))
    print(f"machine: {os.cpu_count()} cores; load average {os.getloadavg()[0]:.2f} at the end")
    print("| workload | wall s | CPU s | reference | ref wall s | ratio (wall) | floor s | within floor |")
    print("|---|---|---|---|---|---|---|---|")
    for name, (wall, cpu), (rwall, _), ref, floor in rows:
        print(f"| {name} | {wall:.1f} | {cpu:.1f} | {ref} | {rwall:.1f} | {wall / rwall:.1f}x | {floor:.0f} | "
              f"{'yes' if wall <= floor else 'NO'} |")
    print(f"(training the digits target took {wall_train_d:.1f} s wall, {cpu_train_d:.1f} s CPU; files in {work})")


if __name__ == "__main__":
    main()
