"""The default audit against its floors (issue 25): time, and power next to the strongest single attack.

1. ``--timing``: the README model (``qaudit train --model basic-qnn --dataset digits --qubits 6 --layers 5
   --epochs 40``), audited end to end (process start to exit) by ``qaudit leak model.json`` (the default
   attacks, RMIA with one complementary pair of reference models included) and by ``qaudit leak model.json
   --fast``; best of 3 each, with the load average before and after. Reference in the same run: ``qaudit
   evaluate model.json`` (start-up + load + one pass over the data). Floors: default <= 10 s, --fast <= 1.5 s
   wall on an idle 2-core machine.
2. ``--controls``: the overfit controls (digits, n-train 100, 200 epochs, 6 qubits x 5 layers, seeds 0-3) and a
   200/200 digits model trained 150 epochs. Each is audited by the default audit on all its scored samples
   (100 members vs 1697 holdout for the controls: the reference models then train on 899 samples, 9x the
   target's 100), and -- to compare with LiRA/RMIA at K = 16 at a cost the shared machine allows -- on its members
   plus a seeded 100 of its holdout (``--members/--non-members``; every reference model then trains on 100
   samples, like the target) by the default audit and by ``-a lira,rmia -K 16``. The K = 16 run's *raw*
   one-sided p-value per attack is the verdict that attack gives run alone (one hypothesis, level alpha).
   Floors: default LEAKS on >= 3 of 4 controls and as often as the strongest single attack, LEAKS on the
   200/200 model.

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


def run(args: list[str], ok: tuple[int, ...] = (0, 1)) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the process and its workers) of one qaudit invocation."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run([QAUDIT, *args], capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode not in ok:
        raise SystemExit(f"qaudit {' '.join(args)} exited {proc.returncode}:\n{proc.stderr}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


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
        times = [run(args) for _ in range(3)]
        walls = [w for w, _ in times]
        rows.append((label, min(walls), walls, min(c for _, c in times)))
    ref = rows[0][1]
    print("| command | best of 3, wall (s) | all three (s) | least CPU (s) | ratio to evaluate (wall) |\n"
          "|---|---|---|---|---|")
    for label, best, walls, cpu in rows:
        print(f"| {label} | {best:.2f} | {', '.join(f'{w:.2f}' for w in walls)} | {cpu:.2f} | {best / ref:.1f}x |")
    verdict = json.loads((work / "d.json").read_text())["verdict"]["line"]
    print(f"default verdict: {verdict}\n{load()} at the end")


def subset(model: Path, work: Path, n: int) -> list[str]:
    """Index files: every member of *model* and a seeded *n* of its holdout (``--members/--non-members``)."""
    import numpy as np

    record = json.loads(model.read_text())["data"]
    members, holdout = work / f"{model.stem}.members.txt", work / f"{model.stem}.non-members{n}.txt"
    np.savetxt(members, np.asarray(record["members"], dtype=np.int64), fmt="%d")
    pick = np.random.default_rng(0).permutation(np.asarray(record["holdout"], dtype=np.int64))[:n]
    np.savetxt(holdout, np.sort(pick), fmt="%d")
    return ["--dataset", "digits", "--members", str(members), "--non-members", str(holdout)]


def audit(model: Path, work: Path, label: str, extra: list[str]) -> dict:
    """``qaudit leak model *extra*`` as JSON, kept in *work* under *label* (reused when present)."""
    path = work / f"{model.stem}.{label}.json"
    if not path.exists():
        start = time.perf_counter()
        run(["leak", str(model), *extra, "-f", "json", "-o", str(path)])
        print(f"  {path.name}: {time.perf_counter() - start:.0f} s ({load()})", file=sys.stderr, flush=True)
    return json.loads(path.read_text())


def _verdict(doc: dict) -> str:
    aucs = ", ".join(f"{k} {v['metrics']['auc']:.3f}" for k, v in doc["attacks"].items())
    return f"{'LEAKS' if doc['summary']['leaks'] else 'no'} ({aucs})"


def _alone(doc: dict, attack: str) -> str:
    """The verdict *attack* gives run alone: its raw one-sided p-value against alpha (one hypothesis)."""
    m = doc["attacks"][attack]["metrics"]
    return f"{'LEAKS' if m['p_value'] <= doc['summary']['alpha'] else 'no'} (AUC {m['auc']:.3f}, p {m['p_value']:.2g})"


def controls(work: Path, seeds: list[int]) -> None:
    """Default audits on the full data first; then, on every member + 100 holdout samples (so LiRA/RMIA's 16
    reference models train on as many samples as the target, 100), the default audit and -a lira,rmia -K 16."""
    print(f"controls, {load()} at the start")
    common = ["--model", "basic-qnn", "--dataset", "digits", "--qubits", "6", "--layers", "5"]
    models = [(f"overfit control seed {seed} (n-train 100, 200 epochs)",
               train(work / f"overfit-{seed}.json", [*common, "--epochs", "200", "--n-train", "100",
                                                     "--seed", str(seed)])) for seed in seeds]
    models.append(("200/200 digits, 150 epochs",
                   train(work / "d200.json", [*common, "--epochs", "150", "--n-train", "200", "--n-holdout", "200"])))
    full = {label: audit(model, work, "default", []) for label, model in models}
    print("| model | default audit, all scored samples | same, members + 100 holdout | LiRA alone, K = 16 "
          "(same samples) | RMIA alone, K = 16 (same samples) |\n|---|---|---|---|---|")
    for label, model in models:
        sub = subset(model, work, 100) if "overfit" in label else []
        small = audit(model, work, "default-sub", sub) if sub else full[label]
        strong = audit(model, work, "k16-sub" if sub else "k16", [*sub, "-a", "lira,rmia", "-K", "16"])
        print(f"| {label} | {_verdict(full[label])} | {_verdict(small) if sub else 'same'} | "
              f"{_alone(strong, 'lira')} | {_alone(strong, 'rmia')} |", flush=True)
        print(f"  {label}: {full[label]['verdict']['line']}", file=sys.stderr, flush=True)
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
