"""The default audit against its floors (issue 25): time, and power next to the strongest single attack.

1. ``--timing``: the README model (``qaudit train --model basic-qnn --dataset digits --qubits 6 --layers 5
   --epochs 40``), audited end to end (process start to exit) by ``qaudit leak model.json`` (the default
   attacks, RMIA with one complementary pair of reference models included) and by ``qaudit leak model.json
   --fast``; best of 3 each, with the load average before and after. Reference in the same run: ``qaudit
   evaluate model.json`` (start-up + load + one pass over the data). Floors: default <= 10 s, --fast <= 1.5 s
   wall on an idle 2-core machine.
2. ``--controls``: the overfit controls (digits, n-train 100, 200 epochs, 6 qubits x 5 layers, seeds 0-3) and a
   200/200 digits model trained 150 epochs. Each is audited by the default audit and by ``-a lira,rmia -K 16``;
   the latter's *raw* one-sided p-value per attack is the verdict that attack gives run alone (one hypothesis,
   level alpha). Floors: default LEAKS on >= 3 of 4 controls and as often as the strongest single attack,
   and LEAKS on the 200/200 model.

Usage: python benchmarks/default_audit.py [--timing] [--controls] [--seeds 0,1,2,3] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

QAUDIT = str(Path(sys.executable).parent / "qaudit")
README_MODEL = ["--model", "basic-qnn", "--dataset", "digits", "--qubits", "6", "--layers", "5", "--epochs", "40"]


def load() -> str:
    return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def run(args: list[str], ok: tuple[int, ...] = (0, 1)) -> tuple[float, subprocess.CompletedProcess]:
    start = time.perf_counter()
    proc = subprocess.run([QAUDIT, *args], capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode not in ok:
        raise SystemExit(f"qaudit {' '.join(args)} exited {proc.returncode}:\n{proc.stderr}")
    return wall, proc


def train(path: Path, args: list[str]) -> Path:
    if not path.exists():
        run(["train", *args, "--out", str(path)], ok=(0,))
    return path


def timing(work: Path) -> None:
    model = train(work / "readme-model.json", README_MODEL)
    print(f"timing, {load()} at the start")
    rows = []
    for label, args in (("qaudit evaluate (reference)", ["evaluate", str(model)]),
                        ("qaudit leak --fast", ["leak", str(model), "--fast", "-f", "json", "-o",
                                                str(work / "f.json")]),
                        ("qaudit leak (default)", ["leak", str(model), "-f", "json", "-o", str(work / "d.json")])):
        walls = [run(args)[0] for _ in range(3)]
        rows.append((label, min(walls), walls))
    ref = rows[0][1]
    print("| command | best of 3 (s) | all three (s) | ratio to evaluate |\n|---|---|---|---|")
    for label, best, walls in rows:
        print(f"| {label} | {best:.2f} | {', '.join(f'{w:.2f}' for w in walls)} | {best / ref:.1f}x |")
    verdict = json.loads((work / "d.json").read_text())["verdict"]
    print(f"default verdict: {verdict}\n{load()} at the end")


def verdicts(model: Path, work: Path) -> dict[str, object]:
    """The default audit's verdict and each reference attack's own verdict at K = 16."""
    default = work / f"{model.stem}.default.json"
    strong = work / f"{model.stem}.k16.json"
    if not default.exists():
        run(["leak", str(model), "-f", "json", "-o", str(default)])
    if not strong.exists():
        run(["leak", str(model), "-a", "lira,rmia", "-K", "16", "-f", "json", "-o", str(strong)])
    d, s = json.loads(default.read_text()), json.loads(strong.read_text())
    alpha = d["summary"]["alpha"]
    alone = {name: a["metrics"]["p_value"] for name, a in s["attacks"].items()}
    return {"default": d["summary"]["leaks"], "default_line": d["verdict"],
            "default_aucs": {k: round(v["metrics"]["auc"], 3) for k, v in d["attacks"].items()},
            "alone": {k: (p <= alpha, round(s["attacks"][k]["metrics"]["auc"], 3), p) for k, p in alone.items()}}


def controls(work: Path, seeds: list[int]) -> None:
    print(f"controls, {load()} at the start")
    models = [(f"overfit control seed {seed} (n-train 100, 200 epochs)",
               train(work / f"overfit-{seed}.json", ["--model", "basic-qnn", "--dataset", "digits", "--qubits", "6",
                                                     "--layers", "5", "--epochs", "200", "--n-train", "100",
                                                     "--seed", str(seed)])) for seed in seeds]
    models.append(("200/200 digits, 150 epochs",
                   train(work / "d200.json", ["--model", "basic-qnn", "--dataset", "digits", "--qubits", "6",
                                              "--layers", "5", "--epochs", "150", "--n-train", "200",
                                              "--n-holdout", "200"])))
    print("| model | default audit | its AUCs | LiRA alone, K = 16 (AUC, p) | RMIA alone, K = 16 (AUC, p) |")
    print("|---|---|---|---|---|")
    for label, model in models:
        start = time.perf_counter()
        v = verdicts(model, work)
        cells = [f"{'LEAKS' if v['alone'][a][0] else 'no'} ({v['alone'][a][1]}, {v['alone'][a][2]:.2g})"
                 for a in ("lira", "rmia")]
        aucs = ", ".join(f"{k} {x}" for k, x in v["default_aucs"].items())
        print(f"| {label} | {'LEAKS' if v['default'] else 'no'} | {aucs} | {cells[0]} | {cells[1]} |", flush=True)
        print(f"  ({time.perf_counter() - start:.0f} s) {v['default_line']}", file=sys.stderr, flush=True)
    print(f"{load()} at the end")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timing", action="store_true")
    parser.add_argument("--controls", action="store_true")
    parser.add_argument("--seeds", default="0,1,2,3")
    parser.add_argument("--workdir", default=None, help="keep models and reports here (default: a temp folder)")
    args = parser.parse_args()
    import tempfile

    work = Path(args.workdir or tempfile.mkdtemp(prefix="qaudit-default-audit-"))
    work.mkdir(parents=True, exist_ok=True)
    if args.timing or not args.controls:
        timing(work)
    if args.controls:
        controls(work, [int(s) for s in args.seeds.split(",")])


if __name__ == "__main__":
    main()
