"""Regenerate README's unlearning table from the very commands README shows (issue 26).

Runs, with this environment's ``qaudit``:

    qaudit train --model basic-qnn --dataset digits --qubits 6 --layers 5 --epochs 40 --out model.json
    qaudit unlearn model.json --method M --forget-class 4 -f json --output M.report.json   (M = ga, ssd, rga, ...)

(default split 1078 members / 719 holdout, seed 0, 5 retrains in the reference) and prints the Markdown
table README holds, with the date and load. Paste its output over the table in README.md.

    nice -n 10 .venv/bin/python benchmarks/readme_unlearning.py [--work DIR] [--methods ga,ssd,rga,finetune,retrain]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import time
from pathlib import Path

TRAIN = ["train", "--model", "basic-qnn", "--dataset", "digits", "--qubits", "6", "--layers", "5", "--epochs", "40",
         "--out", "model.json"]


def qaudit(args: list[str], work: Path) -> int:
    exe = Path(sys.executable).with_name("qaudit")
    return subprocess.run([str(exe), *args], cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                          env={**os.environ, "QAUDIT_CACHE_DIR": str(work / "cache")}).returncode


def pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.1f}"


def row(method: str, doc: dict) -> str:
    r, b = doc["result"], doc["before"]
    a, j = r["after"], r["judgement"]
    failed = [c for c in j["checks"] if not c["passed"]]
    why = "met" if j["met"] else "not met: " + ", ".join(
        c["label"] + (" (utility)" if c["test"] == "non-inferiority" else "") for c in failed)
    return (f"| {method} | {pct(a['accuracy']['forget'])} | {pct(a['accuracy']['retain'])} | "
            f"{pct(a['accuracy']['holdout'])} | {a['forget_mia_auc']:.3f} | {100 * r['cost_ratio']:.1f} % | {why} |"
            ), (f"| original | {pct(b['accuracy']['forget'])} | {pct(b['accuracy']['retain'])} | "
                f"{pct(b['accuracy']['holdout'])} | {b['forget_mia_auc']:.3f} | - | - |")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, default=Path("/tmp/qaudit-readme-unlearning"))
    ap.add_argument("--methods", default="ga,ssd,rga,finetune,retrain")
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    load = os.getloadavg()[0]
    if not (args.work / "model.json").exists() and qaudit(TRAIN, args.work) != 0:
        print("training failed", file=sys.stderr)
        return 3
    rows, first, reference = [], None, None
    for method in args.methods.split(","):
        report = f"{method}.report.json"
        code = qaudit(["unlearn", "model.json", "--method", method, "--forget-class", "4", "--out",
                       f"model.{method}.json", "-f", "json", "--output", report], args.work)
        doc = json.loads((args.work / report).read_text())
        line, original = row(method, doc)
        first = first or original
        reference = doc["oracle"]
        rows.append(line + ("" if code in (0, 1) else f" (exit {code})"))
    s = reference["summary"]

    def spread(key: str, scale: float = 100.0, digits: int = 1) -> str:
        e = s[key]
        return f"{scale * e['mean']:.{digits}f} ± {scale * (e['sd'] or 0):.{digits}f}"

    print("| model | forget acc % | retained acc % | holdout acc % | forget-MIA AUC | cost vs retraining | "
          "forget request |")
    print("|---|---|---|---|---|---|---|")
    print(first)
    print(f"| retraining ({reference['n']} seeds, mean ± sd) | {spread('accuracy.forget')} | "
          f"{spread('accuracy.retain')} | {spread('accuracy.holdout')} | {spread('forget_mia_auc', 1.0, 3)} | 100 % |"
          " - |")
    for line in rows:
        print(line)
    print(f"\nMeasured {datetime.date.today().isoformat()} with `python benchmarks/readme_unlearning.py` "
          f"({time.perf_counter() - start:.0f} s wall, load average {load:.1f} at the start, "
          f"{os.getloadavg()[0]:.1f} at the end, {os.cpu_count()} cores)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
