"""Before/after benchmark of the execution seam (issue 12), both trees measured in the same run.

Runs the same three measurements in a subprocess per source tree (``PYTHONPATH=TREE:TREE/plugins``):

1. W1 -- basic QNN 8 qubits x 5 layers, loss + gradient over 1000 samples (the training path);
2. exact predictions of 1000 samples (the query path: ``predict_proba`` before, ``qaudit.query`` after);
3. the fast leak audit in-process -- gray-box, loss, confidence with 1024 shots on a 1000-member
   digits basic QNN (the target queried through the shot path).

Each figure is the median of ``--repeat`` runs. Usage::

    git worktree add /tmp/qaudit-before <commit>
    python benchmarks/seam.py --before /tmp/qaudit-before [--after .]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

#: Child-process code shared with benchmarks/layout.py: ``median(fn, repeat)`` of wall times, and ``w1_ms(repeat)``
#: -- W1, the basic QNN at 8 qubits x 5 layers, loss + gradient over 1000 seeded random samples (ms).
W1 = r'''
import statistics, time
import numpy as np
from qaudit_qnn.basic import BasicQNN

def median(fn, repeat):
    times = []
    for _ in range(repeat):
        t = time.perf_counter(); fn(); times.append(time.perf_counter() - t)
    return statistics.median(times)

def w1_ms(repeat):
    rng = np.random.default_rng(0)
    X8, y8 = rng.random((1000, 256)), rng.integers(0, 10, 1000)
    m8 = BasicQNN(qubits=8, layers=5, seed=0)
    m8.initialise(X8, y8, n_classes=10)
    m8.loss_and_grad(X8, y8)
    return 1e3 * median(lambda: m8.loss_and_grad(X8, y8), repeat)
'''

CHILD = r'''
import importlib.util, json, sys, warnings
warnings.simplefilter("ignore", DeprecationWarning)  # 0.1 module paths: this script measures trees of both layouts
from qaudit.data import load_dataset
from qaudit.workflows import train_model
new = importlib.util.find_spec("qaudit.query") is not None
if new:
    from qaudit.audit import AuditSettings, ground_truth, run_audit
else:
    from qaudit.leak import AuditSettings, ground_truth, run_audit
repeat = int(sys.argv[1])
ds = load_dataset("digits")
''' + W1 + r'''
out = {"w1_ms": w1_ms(repeat)}
mf = train_model("basic-qnn", ds, n_train=1000, n_holdout=500, seed=0, options={"qubits": 6, "layers": 5, "epochs": 1})
Xq = ds.X[mf.data.members]
if new:
    from qaudit.query import predict_proba
    out["predict_1000_ms"] = 1e3 * median(lambda: predict_proba(mf.model, Xq), repeat)
else:
    out["predict_1000_ms"] = 1e3 * median(lambda: mf.model.predict_proba(Xq), repeat)
truth = ground_truth(mf, len(ds))
def audit():
    s = AuditSettings(attacks=["gray-box", "loss", "confidence"], backend="sampled", shots=1024, seed=0)
    if new:
        run_audit(mf, ds, truth, s)
    else:
        from qaudit.backends import resolve_backend
        be, _ = resolve_backend("sampled", 1024, mf.model)
        run_audit(mf, ds, truth, s, backend=be)
out["fast_leak_audit_s"] = median(audit, repeat)
print(json.dumps(out))
'''


def measure(tree: Path, repeat: int) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": f"{tree}:{tree / 'plugins'}", "QAUDIT_CACHE_DIR": "off"}
    proc = subprocess.run([sys.executable, "-c", CHILD, str(repeat)], capture_output=True, text=True, env=env,
                          cwd=tree)
    if proc.returncode:
        raise SystemExit(f"{tree}: {proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True)
    parser.add_argument("--after", type=Path, default=Path(__file__).resolve().parents[1])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    before = measure(args.before.resolve(), args.repeat)
    after = measure(args.after.resolve(), args.repeat)
    print(f"{'measurement':<22}{'before':>12}{'after':>12}{'after/before':>14}")
    for key in before:
        print(f"{key:<22}{before[key]:>12.2f}{after[key]:>12.2f}{after[key] / before[key]:>14.3f}")


if __name__ == "__main__":
    main()
