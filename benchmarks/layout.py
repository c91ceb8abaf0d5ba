"""Issue 27's refactor against the tree before it, both measured in the same run (issue 27, last floor).

The SDK, the folders by workflow and the one-API-call commands must not cost speed. For each source tree
(``PYTHONPATH=TREE:TREE/plugins``, same interpreter and installed packages) this measures, alternating the
trees so both see the same machine load:

1. W1 -- basic QNN 8 qubits x 5 layers, loss + gradient over 1000 samples (median of 5 calls, ms; the better
   of two processes per tree, alternated);
2. HQNN training -- the ``hqnn`` kind on 400 MNIST test-set images (``../shared/data/mnist`` or ``--mnist``),
   3 epochs (median of 3, s; the better of two processes per tree);
3. ``qaudit leak model.json`` (the default attacks, RMIA included) and ``qaudit leak model.json --fast`` on the
   README model (``qaudit train --model basic-qnn --dataset digits --qubits 6 --layers 5 --epochs 40``),
   end to end from process start (best of 3, s).

Prints both figures and the ratio after/before per measurement, with the load average before and after.
Usage::

    git worktree add /tmp/qaudit-before <commit before the refactor>
    python benchmarks/layout.py --before /tmp/qaudit-before [--after .]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from seam import W1  # the W1 measurement, shared with benchmarks/seam.py

# Both layouts: 0.1 module paths import in the new one too (with a DeprecationWarning, ignored here).
CHILD = r'''
import json, sys, warnings
warnings.simplefilter("ignore", DeprecationWarning)
from qaudit.data import load_dataset
from qaudit.workflows import train_model
''' + W1 + r'''
out = {"w1_ms": w1_ms(5)}
mnist = load_dataset("mnist", {"data_dir": sys.argv[1]})
out["hqnn_train_s"] = median(lambda: train_model("hqnn", mnist, n_train=400, n_holdout=200, seed=0,
                                                 options={"epochs": 3}), 3)
print(json.dumps(out))
'''


def _env(tree: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": f"{tree}:{tree / 'plugins'}", "QAUDIT_CACHE_DIR": "off",
            "PYTHONWARNINGS": "ignore::DeprecationWarning"}


def _cli(tree: Path) -> list[str]:
    module = "qaudit.cli.app" if (tree / "qaudit" / "cli" / "app.py").exists() else "qaudit.cli"
    return [sys.executable, "-c", f"import sys; sys.argv[0] = 'qaudit'; from {module} import main; main()"]


def in_process(tree: Path, mnist: Path) -> dict[str, float]:
    proc = subprocess.run([sys.executable, "-c", CHILD, str(mnist)], capture_output=True, text=True, env=_env(tree),
                          cwd=tree)
    if proc.returncode:
        raise SystemExit(f"{tree}: {proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def cli_seconds(tree: Path, args: list[str], report: bool = True) -> float:
    start = time.perf_counter()
    proc = subprocess.run([*_cli(tree), *args], capture_output=True, text=True, env=_env(tree), cwd=tree)
    if proc.returncode not in (0, 1) or (report and not proc.stdout.lstrip().startswith("{")):  # 1: LEAKS
        raise SystemExit(f"{tree}: qaudit {' '.join(args)}: {proc.stderr[-2000:]}")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True)
    parser.add_argument("--after", type=Path, default=Path(__file__).resolve().parents[1])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--mnist", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist")
    args = parser.parse_args()
    trees = {"before": args.before.resolve(), "after": args.after.resolve()}
    load = os.getloadavg()[0]
    samples: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
    for _ in range(2):  # alternate the trees: both see the same load
        for name, tree in trees.items():
            samples[name].append(in_process(tree, args.mnist.resolve()))
    results = {name: {key: min(s[key] for s in got) for key in got[0]} for name, got in samples.items()}
    with tempfile.TemporaryDirectory() as tmp:
        model = str(Path(tmp) / "model.json")
        cli_seconds(trees["after"], ["train", "--model", "basic-qnn", "--dataset", "digits", "--qubits", "6",
                                     "--layers", "5", "--epochs", "40", "--out", model], report=False)
        runs: dict[str, dict[str, list[float]]] = {n: {"leak_s": [], "leak_fast_s": []} for n in trees}
        for _ in range(args.repeat):
            for name, tree in trees.items():
                runs[name]["leak_s"].append(cli_seconds(tree, ["leak", model, "-f", "json"]))
                runs[name]["leak_fast_s"].append(cli_seconds(tree, ["leak", model, "--fast", "-f", "json"]))
    for name in trees:
        results[name].update({key: min(values) for key, values in runs[name].items()})
    print(f"load average {load:.2f} before, {os.getloadavg()[0]:.2f} after; trees: "
          + ", ".join(f"{n} {t}" for n, t in trees.items()))
    print(f"{'measurement':<16}{'before':>10}{'after':>10}{'after/before':>14}")
    for key in results["before"]:
        b, a = results["before"][key], results["after"][key]
        print(f"{key:<16}{b:>10.3f}{a:>10.3f}{a / b:>14.3f}")
    print(json.dumps({"median_ratio": statistics.median(results["after"][k] / results["before"][k]
                                                        for k in results["before"])}))


if __name__ == "__main__":
    main()
