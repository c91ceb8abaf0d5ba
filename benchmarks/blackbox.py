"""Black-box audits of recorded outputs (issue 15): speed and calibration, measured.

* **Speed**: wall time of ``qaudit leak --outputs`` (a fresh process, as a user runs it) on the shipped
  example (200 samples, 8 reference models) and on a 1000-sample file (synthetic, 8 reference models),
  with every attack the file can serve. Reference measured in the same run: ``qaudit leak model.json``
  on a qaudit digits model with 500 members and 500 non-members and the attacks that need no reference
  models, against ``--outputs`` on that model's own recorded outputs with the same attacks (the ratio is
  the cost of the outputs path against the model path for identical work).
* **Calibration**: the share of null outputs (members and non-members from one distribution) called
  LEAKS, and of memorising outputs (true-class logit +1.5 on the samples a model trained on) caught,
  with Clopper-Pearson 95 % intervals; attacks loss, confidence, lira, lira-offline, rmia, Holm at 0.05.

Usage: python benchmarks/blackbox.py [--null 200] [--memorising 50] [--repeats 3]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from qaudit.leak.audit import AuditSettings
from qaudit.leak.recorded import load_outputs, run_outputs_audit
from qaudit.leak.metrics import clopper_pearson
from qaudit.sdk.testing import synthetic_outputs

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "outputs" / "outputs.npz"
QUICK = ["loss", "confidence", "lira", "lira-offline", "rmia"]
NO_REFERENCES = "gray-box,loss,confidence,entropy"


def cli_seconds(args: list[str], repeats: int, work: Path) -> tuple[float, float]:
    """Best-of-*repeats* (wall, CPU) seconds of ``qaudit ARGS -f json -o FILE`` in a fresh process (CPU =
    user + system time of the process, which other jobs on a shared machine do not inflate)."""
    import resource

    best = (float("inf"), float("inf"))
    for _ in range(repeats):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "qaudit.cli.app", *args, "-f", "json", "-o", str(work / "r.json")],
                              capture_output=True, text=True, cwd=work)
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
        best = (min(best[0], wall), min(best[1], cpu))
        if done.returncode not in (0, 1):
            raise SystemExit(f"qaudit {' '.join(args)} failed: {done.stderr.strip()}")
    return best


def speed(repeats: int, work: Path) -> None:
    from qaudit import api
    from qaudit.run.query import predict_proba

    big = work / "outputs-1000.npz"
    np.savez(big, **synthetic_outputs(n=1000, K=8, seed=1, memorise=0.5))
    print(f"| file | samples | reference models | attacks | wall / CPU seconds (best of {repeats}) |")
    print("|---|---|---|---|---|")
    for path, n in ((EXAMPLE, 200), (big, 1000)):
        wall, cpu = cli_seconds(["leak", "--outputs", str(path)], repeats, work)
        print(f"| {path.name} | {n} | 8 | every one it can serve (7) | {wall:.2f} / {cpu:.2f} |")
    mf = api.train("basic-qnn", "digits", n_train=500, n_holdout=500, seed=0,
                   options={"qubits": 4, "layers": 2, "epochs": 5}, out=work / "model.json")
    ds = api.load_dataset(model=mf)
    rows = np.concatenate([mf.data.members, mf.data.holdout])
    own = work / "own-outputs.npz"
    np.savez(own, probs=predict_proba(mf.model, ds.X[rows]), labels=ds.y[rows].astype(np.int64),
             membership=np.r_[np.ones(500, np.int64), np.zeros(500, np.int64)])
    model_s = cli_seconds(["leak", str(work / "model.json"), "-a", NO_REFERENCES, "--jobs", "1"], repeats, work)
    outputs_s = cli_seconds(["leak", "--outputs", str(own), "-a", NO_REFERENCES], repeats, work)
    print(f"\nsame 1000 samples, attacks {NO_REFERENCES} (wall / CPU s): model path {model_s[0]:.2f} / "
          f"{model_s[1]:.2f} (reference), outputs path {outputs_s[0]:.2f} / {outputs_s[1]:.2f}, CPU ratio "
          f"{outputs_s[1] / model_s[1]:.2f}")


def calibration(n_null: int, n_mem: int, work: Path) -> None:
    path = work / "o.npz"

    def leaks(data: dict, seed: int) -> bool:
        np.savez(path, **data)
        settings = AuditSettings(attacks=QUICK, seed=seed, n_bootstrap=50)
        return bool(run_outputs_audit(load_outputs(path), settings, QUICK).summary["leaks"])

    start = time.perf_counter()
    null = sum(leaks(synthetic_outputs(seed=10_000 + s), s) for s in range(n_null))
    caught = sum(leaks(synthetic_outputs(seed=20_000 + s, memorise=1.5), s) for s in range(n_mem))
    print("\n| outputs (200 samples, 8 references) | audits | LEAKS | rate [95 % CI] |\n|---|---|---|---|")
    for label, k, n in (("null", null, n_null), ("memorising (+1.5 logit)", caught, n_mem)):
        low, high = clopper_pearson(k, n, 0.05)
        print(f"| {label} | {n} | {k} | {k / n:.3f} [{low:.3f}, {high:.3f}] |")
    print(f"({time.perf_counter() - start:.1f} s for {n_null + n_mem} audits)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--null", type=int, default=200)
    parser.add_argument("--memorising", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-calibration", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        speed(args.repeats, Path(tmp))
        if not args.skip_calibration:
            calibration(args.null, args.memorising, Path(tmp))


if __name__ == "__main__":
    main()
