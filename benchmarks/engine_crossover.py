"""Shared-unitary vs batched per-sample engine paths: loss + gradient time against batch size.

    .venv/bin/python benchmarks/engine_crossover.py [--qubits 4-11] [--layers 5] [--json]

For each register width n it times ``forward`` + ``backward`` of the basic QNN circuit
(U3 + CNOT ring, ⟨Z_q⟩ readout) on amplitude-encoded batches of growing size with
``method="unitary"`` and ``method="batched"`` (median CPU time of --repeat runs each, same
process; CPU time because the benchmark machine's cores are shared) and reports the smallest
batch from which the shared-unitary path is faster at every larger measured batch. The
result sets ``UNITARY_MIN_BATCH`` in ``qaudit/engine/__init__.py``.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np


def cpu_median(fn, repeat: int) -> float:
    """Median CPU (process) time of *repeat* calls: robust to other processes on shared cores."""
    times = []
    for _ in range(repeat):
        start = time.process_time()
        fn()
        times.append(time.process_time() - start)
    return float(np.median(times))


def measure(n: int, layers: int, batches: list[int], repeat: int, seed: int = 0) -> dict:
    from qaudit_qnn.basic import BasicQNN

    from qaudit.engine import backward, forward

    model = BasicQNN(qubits=n, layers=layers)
    _, _, program, obs, _ = model.compiled[:5]
    rng = np.random.default_rng(seed)
    theta = rng.normal(size=len(program.param_names))
    rows = []
    for batch in batches:
        if batch > 2 * 2**n and rows and rows[-1]["unitary_s"] < rows[-1]["batched_s"]:
            break
        X = rng.random((batch, 2**n))
        X /= np.linalg.norm(X, axis=1, keepdims=True)
        states = X.astype(np.complex128)
        d_ev = rng.normal(size=(batch, n))
        times = {}
        for method in ("unitary", "batched"):
            def run(method=method, states=states, d_ev=d_ev):
                _, cache = forward(program, theta, obs, states=states, method=method)
                backward(cache, d_ev)
            run()
            times[method] = cpu_median(run, repeat)
        rows.append({"batch": batch, "unitary_s": times["unitary"], "batched_s": times["batched"]})
    # crossover: smallest batch from which the unitary path wins at every larger measured batch
    crossover = None
    for row in reversed(rows):
        if row["unitary_s"] <= row["batched_s"]:
            crossover = row["batch"]
        else:
            break
    return {"qubits": n, "dim": 2**n, "crossover_batch": crossover, "rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--qubits", default="4-11", help="range like 4-11 or list 6,8")
    parser.add_argument("--layers", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--max-batch", type=int, default=4096)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if "-" in args.qubits:
        lo, hi = (int(v) for v in args.qubits.split("-"))
        widths = list(range(lo, hi + 1))
    else:
        widths = [int(v) for v in args.qubits.split(",")]
    batches = [2**k for k in range(0, 13) if 2**k <= args.max_batch]
    results = []
    for n in widths:
        res = measure(n, args.layers, batches, args.repeat)
        results.append(res)
        if not args.json:
            print(f"n={n:2d} dim={res['dim']:5d} crossover batch={res['crossover_batch']}")
            for row in res["rows"]:
                faster = "unitary" if row["unitary_s"] <= row["batched_s"] else "batched"
                print(f"    batch {row['batch']:5d}: unitary {row['unitary_s'] * 1e3:9.2f} ms  "
                      f"batched {row['batched_s'] * 1e3:9.2f} ms (CPU)  -> {faster}")
    if args.json:
        print(json.dumps({"layers": args.layers, "results": results}, indent=1))
    else:
        table = {r["qubits"]: r["crossover_batch"] for r in results}
        print(f"UNITARY_MIN_BATCH = {table}")


if __name__ == "__main__":
    main()
