"""Backend floors (issue 9), every ratio measured against a reference in the same run.

    .venv/bin/python benchmarks/backends.py [--samples 1000] [--qubits 8] [--layers 5] [--json]

1. ``sampled``: 1024 shots on each of N samples (reference: the exact engine).
2. ``qsim`` exact on N amplitude-encoded samples: parameters resolved once + memoised
   qsim circuit, one ``simulate`` per sample, vs the naive loop of
   ``simulate_expectation_values_sweep`` with a resolver per sample (Cirq #6091).
3. Noisy (paper noise) exact evaluation of N samples with the Heisenberg engine vs
   ``cirq.DensityMatrixSimulator`` per sample (on 5 samples), agreement on those 5,
   and the golden file ``shared/data/golden/basic_qnn_noisy.json`` when present.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

GOLDEN = Path(__file__).resolve().parents[2] / "shared" / "data" / "golden" / "basic_qnn_noisy.json"


def timed(fn, repeat: int = 3):
    """(best seconds over *repeat* runs, last result)."""
    best, out = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def main() -> None:
    import cirq
    import qsimcirq
    from qaudit_backends.common import cirq_observables
    from qaudit_qnn.basic import u3_ring_layers

    from qaudit.run.backend_choice import resolve_backend
    from qaudit.engine.noise import NoiseModel, NoisyProgram, noisy_forward
    from qaudit.sdk.protocols import QuantumTask

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--qubits", type=int, default=8)
    parser.add_argument("--layers", type=int, default=5)
    parser.add_argument("--naive-samples", type=int, default=200,
                        help="samples timed for the naive qsim loop (per-sample cost is extrapolated)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    n, N = args.qubits, args.samples
    rng = np.random.default_rng(0)
    qubits = cirq.LineQubit.range(n)
    circuit, names = u3_ring_layers(qubits, args.layers)
    theta = rng.normal(size=len(names))
    X = rng.normal(size=(N, 2**n))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    terms = [f"Z{q}" for q in range(n)]
    task = QuantumTask(circuit, qubits, names, theta, terms, states=X.astype(np.complex128))
    rows = []

    # 1. sampled
    exact, _ = resolve_backend("exact", None)
    sampled, _ = resolve_backend("sampled", 1024)
    t_exact, ev_exact = timed(lambda: exact.expectation(task))
    t_sampled, ev_sampled = timed(lambda: sampled.expectation(task, 1024, seed=1))  # includes the exact forward
    z = np.abs(ev_sampled - ev_exact) / np.sqrt(np.clip(1 - ev_exact**2, 1e-12, None) / 1024)
    rows.append({"benchmark": f"sampled, 1024 shots x {N} samples", "seconds": t_sampled,
                 "reference": "exact engine", "reference_seconds": t_exact,
                 "ratio": t_sampled / t_exact, "floor": "<= 0.5 s", "pass": t_sampled <= 0.5,
                 "note": f"max |z| vs exact {z.max():.2f}"})

    # 2. qsim: resolved once vs naive per-sample sweep
    qsim, _ = resolve_backend("qsim", None)
    t_qsim, ev_qsim = timed(lambda: qsim.expectation(task), repeat=1)
    observables = cirq_observables(terms, qubits)
    sim = qsimcirq.QSimSimulator()
    k = min(args.naive_samples, N)

    def naive():
        out = []
        for i in range(k):
            resolver = cirq.ParamResolver(task.resolver())
            out.append(sim.simulate_expectation_values_sweep(
                circuit, observables, resolver, qubit_order=qubits,
                initial_state=X[i].astype(np.complex64))[0])
        return np.real(np.array(out))

    t_naive_k, ev_naive = timed(naive, repeat=1)
    t_naive = t_naive_k * N / k
    rows.append({"benchmark": f"qsim exact, {N} amplitude-encoded samples", "seconds": t_qsim,
                 "reference": f"naive simulate_expectation_values_sweep loop (timed on {k}, scaled to {N})",
                 "reference_seconds": t_naive, "ratio": t_naive / t_qsim, "floor": ">= 5x faster",
                 "pass": t_naive / t_qsim >= 5,
                 "note": f"max |qsim - exact| {np.abs(ev_qsim - ev_exact).max():.1e}, "
                         f"naive vs exact {np.abs(ev_naive - ev_exact[:k]).max():.1e}"})

    # 3. noisy: Heisenberg engine vs DensityMatrixSimulator
    noise = NoiseModel()
    program = NoisyProgram.from_circuit(circuit, qubits, names, noise)
    t_noisy, (ev_noisy, _) = timed(lambda: noisy_forward(program, theta, terms, X))
    dm, _ = resolve_backend("density-matrix", None)
    m = 5
    small = QuantumTask(circuit, qubits, names, theta, terms, states=task.states[:m])
    t_dm, ev_dm = timed(lambda: dm.expectation(small), repeat=1)
    per_dm, per_noisy = t_dm / m, t_noisy / N
    rows.append({"benchmark": f"noisy (paper) exact, {N} samples", "seconds": t_noisy,
                 "reference": "cirq.DensityMatrixSimulator per sample (5 samples)",
                 "reference_seconds": t_dm, "ratio": per_dm / per_noisy,
                 "floor": "<= 1 s and >= 1000x per sample", "pass": t_noisy <= 1.0 and per_dm / per_noisy >= 1000,
                 "note": f"max |Heisenberg - DM| on {m} samples {np.abs(ev_noisy[:m] - ev_dm).max():.1e}"})
    # noisy gradient (adjoint bookkeeping) for a training batch vs the noiseless engine's gradient
    from qaudit.engine import PauliObservables, Program, backward, forward
    from qaudit.engine.noise import noisy_backward

    batch = X[:32]
    d_ev = rng.normal(size=(32, n))

    def noisy_grad():
        _, cache = noisy_forward(program, theta, terms, batch, keep=True)
        return noisy_backward(cache, d_ev)

    clean_program = Program.from_circuit(circuit, qubits, names)
    observables = PauliObservables(terms, n)

    def clean_grad():
        _, cache = forward(clean_program, theta, observables, states=batch.astype(np.complex128))
        return backward(cache, d_ev)[0]

    t_ng, _ = timed(noisy_grad)
    t_cg, _ = timed(clean_grad)
    rows.append({"benchmark": "noisy loss gradient, batch of 32 (adjoint)", "seconds": t_ng,
                 "reference": "noiseless engine gradient, same batch", "reference_seconds": t_cg,
                 "ratio": t_ng / t_cg, "floor": "(no floor)", "pass": True,
                 "note": "checked against finite differences in tests/test_noise.py"})
    if GOLDEN.exists():
        g = json.loads(GOLDEN.read_text())["basic_qnn_paper_noise_8q_2l"]
        gq = cirq.LineQubit.range(g["n_qubits"])
        gc, gn = u3_ring_layers(gq, g["n_layers"])
        gx = np.array(g["x_unnormalised"])
        gx /= np.linalg.norm(gx, axis=1, keepdims=True)
        gp = NoisyProgram.from_circuit(gc, gq, gn, NoiseModel(g["p1"], g["p2"], g["p_bitflip"]))
        gev, _ = noisy_forward(gp, np.array(g["theta"]).reshape(-1), [f"Z{q}" for q in range(g["n_qubits"])], gx)
        diff = float(np.abs(gev - np.array(g["expval_z"])).max())
        rows.append({"benchmark": "noisy vs golden (PennyLane default.mixed, 8q 2l)", "seconds": None,
                     "reference": "golden file", "reference_seconds": None, "ratio": None,
                     "floor": "<= 1e-10", "pass": diff <= 1e-10, "note": f"max diff {diff:.1e}"})

    if args.json:
        print(json.dumps({"format": "qaudit.benchmark", "version": 1, "qubits": n, "layers": args.layers,
                          "samples": N, "rows": rows}, indent=1))
        return
    print(f"| benchmark ({n} qubits, {args.layers} layers) | seconds | reference | ref. seconds | ratio | floor "
          "| ok | note |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        sec = "-" if r["seconds"] is None else f"{r['seconds']:.3f}"
        ref = "-" if r["reference_seconds"] is None else f"{r['reference_seconds']:.3f}"
        ratio = "-" if r["ratio"] is None else f"{r['ratio']:.1f}x"
        print(f"| {r['benchmark']} | {sec} | {r['reference']} | {ref} | {ratio} | {r['floor']} | "
              f"{'yes' if r['pass'] else 'NO'} | {r['note']} |")


if __name__ == "__main__":
    main()
