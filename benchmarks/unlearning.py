"""Unlearning benchmark: the paper's setting (forget digit 4) on digits, MNIST basic QNN and MNIST HQNN.

For every setting: train the model (1000 members / 500 holdout), train the retrain oracle,
run ga, ssd, rga and finetune with their defaults, verify each the same way
(qaudit.unlearn.Verifier) and check the floors of issue 6:

* forget-set accuracy <= oracle's + 10 points, retained accuracy within 5 points of the original
  (ga, ssd, rga);
* ga and ssd cost <= 10 % of the oracle's per-sample gradient evaluations.

Also times ``qaudit unlearn`` (CLI, verification included) on digits for ga/ssd/rga, with the
oracle trained (first run) and cached (later runs).

    .venv/bin/python benchmarks/unlearning.py [--which digits,mnist,hqnn] [--work DIR]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

SETTINGS = {
    "digits": ("basic-qnn", "digits", {"qubits": 6, "layers": 5, "epochs": 40, "lr": 0.05, "batch_size": 32}),
    "mnist": ("basic-qnn", "mnist", {"epochs": 40}),
    "hqnn": ("hqnn", "mnist", {}),
}
METHODS = ("ga", "ssd", "rga", "finetune")
MNIST_DIR = os.environ.get("QAUDIT_MNIST_DIR") or str(Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist")


def run_setting(name: str, work: Path) -> list[dict]:
    from qaudit.files import model_file as model_io
    from qaudit import unlearn as core
    from qaudit.files.data import load_dataset
    from qaudit.train.workflows import train_model

    kind, dataset, options = SETTINGS[name]
    ds = load_dataset(dataset, {"data_dir": MNIST_DIR} if dataset == "mnist" else {})
    path = work / f"{name}.json"
    if not path.exists():
        t = time.perf_counter()
        mf = train_model(kind, ds, n_train=1000, n_holdout=500, seed=0, options=options)
        model_io.save(mf, path)
        print(f"[{name}] trained {kind} in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    mf = model_io.load(path)
    fs = core.resolve_forget(mf, ds, [4], None)
    verifier = core.Verifier(mf, ds, fs, seed=0)
    before = verifier.snapshot(mf.model)
    t = time.perf_counter()
    reference = core.make_reference(mf, ds, fs, verifier, core.DEFAULT_ORACLES, {0}, cache=True)
    oracle = reference.oracles[0]  # the table's oracle row: the first retrain of the reference
    oracle_s = (time.perf_counter() - t) / len(reference.oracles)  # per retrain
    rows = [{"setting": name, "method": "original", "before": before, "after": before, "cost_ratio": None,
             "grads": None, "seconds": None},
            {"setting": name, "method": f"retrain oracle ({oracle.source.split(' ')[0]})", "before": before,
             "after": oracle.snapshot, "cost_ratio": 1.0, "grads": oracle.gradient_evaluations,
             "seconds": oracle_s}]
    for method in METHODS:
        r = core.apply_method(method, mf, ds, fs, verifier, reference, 0, {})
        ok_forget = r.after["accuracy"]["forget"] <= oracle.snapshot["accuracy"]["forget"] + 0.10
        ok_retain = before["accuracy"]["retain"] - r.after["accuracy"]["retain"] <= 0.05
        ok_cost = r.cost_ratio <= 0.10 if method in ("ga", "ssd") else None
        rows.append({"setting": name, "method": method, "before": before, "after": r.after,
                     "cost_ratio": r.cost_ratio, "grads": r.cost.gradient_evaluations, "seconds": r.cost.seconds,
                     "floors": (ok_forget and ok_retain) if method != "finetune" else None, "cost_ok": ok_cost})
    return rows


def time_cli(work: Path) -> list[tuple[str, str, float, int]]:
    """Wall-clock of `qaudit unlearn` on the digits model, oracle trained then cached."""
    exe = Path(sys.executable).with_name("qaudit")
    env = {**os.environ, "QAUDIT_CACHE_DIR": str(work / "cli-cache")}
    out = []
    for i, method in enumerate(("ga", "ssd", "rga")):
        cmd = [str(exe), "unlearn", str(work / "digits.json"), "--method", method, "--forget-class", "4",
               "--out", str(work / f"digits.{method}.json"), "--format", "json",
               "--output", str(work / f"digits.{method}.report.json")]  # outputs are regular files, never devices
        t = time.perf_counter()
        code = subprocess.run(cmd, env=env, capture_output=True).returncode
        out.append((method, "trained" if i == 0 else "cached", time.perf_counter() - t, code))
    return out


def pct(v) -> str:
    return "-" if v is None else f"{100 * v:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--which", default="digits,mnist,hqnn")
    parser.add_argument("--work", default="/tmp/qaudit-bench-unlearning")
    args = parser.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("QAUDIT_CACHE_DIR", str(work / "cache"))
    rows = []
    for name in args.which.split(","):
        rows += run_setting(name.strip(), work)
    print("| setting | method | forget acc % | retained acc % | holdout acc % | forget MIA % (paper) | "
          "forget MIA AUC | grad evals | cost vs retrain % | seconds | floors (acc) | cost <= 10 % |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        a = r["after"]
        floors = {True: "pass", False: "FAIL", None: "-"}[r.get("floors")]
        cost_ok = {True: "pass", False: "FAIL", None: "-"}[r.get("cost_ok")]
        seconds = "-" if r["seconds"] is None else f"{r['seconds']:.2f}"
        print(f"| {r['setting']} | {r['method']} | {pct(a['accuracy']['forget'])} | {pct(a['accuracy']['retain'])} | "
              f"{pct(a['accuracy']['holdout'])} | {pct(a['forget_mia'])} | {a['forget_mia_auc']:.3f} | "
              f"{r['grads'] if r['grads'] is not None else '-'} | {pct(r['cost_ratio'])} | "
              f"{seconds} | {floors} | {cost_ok} |")
    if "digits" in args.which:
        print("\n| `qaudit unlearn` on digits | oracle | wall-clock s | exit |\n|---|---|---|---|")
        for method, oracle, seconds, code in time_cli(work):
            print(f"| {method} | {oracle} | {seconds:.1f} | {code} |")


if __name__ == "__main__":
    main()
