"""Workload W1 (issue 3): basic QNN, 8 qubits x 5 layers, loss + gradient of every parameter
(circuit θ, head W and b) over 1000 amplitude-encoded samples.

    .venv/bin/python benchmarks/engine.py [--samples 1000] [--pl-subset 50] [--repeat 7] [--json]

In the same run it measures PennyLane ``lightning.qubit`` with ``diff_method="adjoint"``
(the ``bench`` extra: ``pip install pennylane pennylane-lightning``) on a subset of the
same samples, scaled linearly to the full count, and prints both times and the ratio.
It also checks that PennyLane's loss and gradient on the subset agree with qaudit's,
and (for context) times a Cirq + qsim forward pass on a subset.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import numpy as np


def best_and_median(fn, repeat: int) -> tuple[float, float]:
    """(best, median) wall-clock seconds of *repeat* calls."""
    return timed(fn, repeat)[:2]


def timed(fn, repeat: int) -> tuple[float, float, float]:
    """(best wall, median wall, median CPU seconds) of *repeat* calls (CPU = process time, all threads)."""
    wall, cpu = [], []
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return min(wall), float(np.median(wall)), float(np.median(cpu))


def make_model(n_qubits: int, n_layers: int, n_samples: int, seed: int):
    from qaudit_qnn.basic import BasicQNN

    rng = np.random.default_rng(seed)
    X = rng.random((n_samples, 2**n_qubits))
    y = rng.integers(0, 10, n_samples)
    model = BasicQNN(qubits=n_qubits, layers=n_layers, seed=seed)
    model.initialise(X, y, n_classes=10)
    Z = model.transform(X)  # L2-normalised rows: the amplitude-encoded states
    return model, Z, y


def pennylane_loss_and_grad(model, Z: np.ndarray, y: np.ndarray):
    """Loss and gradient of θ, W, b with lightning.qubit + adjoint; returns (seconds, loss, grads)."""
    import pennylane as qml
    from pennylane import numpy as pnp

    n = model.options["qubits"]
    layers = model.options["layers"]
    dev = qml.device("lightning.qubit", wires=n)

    @qml.qnode(dev, diff_method="adjoint")
    def circuit(x, theta):
        qml.StatePrep(x, wires=range(n))
        t = theta.reshape(layers, n, 3)
        for layer in range(layers):
            for q in range(n):
                qml.U3(t[layer, q, 0], t[layer, q, 1], t[layer, q, 2], wires=q)
            for q in range(n):
                qml.CNOT(wires=[q, (q + 1) % n])
        return [qml.expval(qml.PauliZ(q)) for q in range(n)]

    def cost(theta, W, b, rows, labels):
        total = 0.0
        for x, label in zip(rows, labels):
            ev = pnp.stack(circuit(x, theta))
            logits = pnp.dot(ev, W) + b
            total = total - (logits[label] - pnp.log(pnp.sum(pnp.exp(logits))))
        return total / len(rows)

    theta = pnp.array(model.weights["theta"], requires_grad=True)
    W = pnp.array(model.weights["W"], requires_grad=True)
    b = pnp.array(model.weights["b"], requires_grad=True)
    grad_fn = qml.grad(cost, argnums=[0, 1, 2])
    grad_fn(theta, W, b, Z[:1], y[:1])  # warm-up (device, caches)
    start, start_cpu = time.perf_counter(), time.process_time()
    grads = grad_fn(theta, W, b, Z, y)
    seconds, cpu = time.perf_counter() - start, time.process_time() - start_cpu
    loss = float(cost(theta, W, b, Z, y))
    return seconds, cpu, loss, {"theta": np.asarray(grads[0]), "W": np.asarray(grads[1]), "b": np.asarray(grads[2])}


def qsim_forward(model, Z: np.ndarray) -> float:
    """Seconds for <Z_q> of every row of Z with Cirq + qsim (resolved circuit, one simulate per sample)."""
    import cirq
    import qsimcirq

    circuit, qubits, program, _, _ = model.compiled[:5]
    resolved = cirq.resolve_parameters(circuit, dict(zip(program.param_names, model.weights["theta"])))
    sim = qsimcirq.QSimSimulator()
    start = time.perf_counter()
    for x in Z:
        state = sim.simulate(resolved, qubit_order=qubits, initial_state=x.astype(np.complex64)).final_state_vector
        probs = np.abs(state) ** 2
        _ = [probs.reshape((2,) * len(qubits) + (-1,)).sum(axis=tuple(i for i in range(len(qubits)) if i != q))
             for q in range(len(qubits))]
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--qubits", type=int, default=8)
    parser.add_argument("--layers", type=int, default=5)
    parser.add_argument("--pl-subset", type=int, default=50, help="PennyLane samples (scaled to --samples)")
    parser.add_argument("--qsim-subset", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    model, Z, y = make_model(args.qubits, args.layers, args.samples, args.seed)
    model._loss_grad_encoded(Z, y)  # warm-up (compiles the circuit)
    q_best, q_median, q_cpu = timed(lambda: model._loss_grad_encoded(Z, y), args.repeat)

    result = {
        "workload": f"W1: basic QNN {args.qubits} qubits x {args.layers} layers, loss + grad, {args.samples} samples",
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}, "
                   f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}",
        "qaudit_best_s": q_best,
        "qaudit_median_s": q_median,
        "qaudit_cpu_s": q_cpu,
    }
    sub = slice(0, min(args.pl_subset, args.samples))
    try:
        pl_seconds, pl_cpu, pl_loss, pl_grads = pennylane_loss_and_grad(model, Z[sub], y[sub])
    except ImportError as exc:
        result["pennylane"] = f"not installed ({exc}); pip install pennylane pennylane-lightning"
    else:
        ql, qg = model._loss_grad_encoded(Z[sub], y[sub])
        scale = args.samples / (sub.stop - sub.start)
        result.update({
            "pennylane_subset": sub.stop - sub.start,
            "pennylane_subset_s": pl_seconds,
            "pennylane_scaled_s": pl_seconds * scale,
            "ratio_vs_best": pl_seconds * scale / q_best,
            "ratio_vs_median": pl_seconds * scale / q_median,
            "pennylane_cpu_scaled_s": pl_cpu * scale,
            "ratio_cpu": pl_cpu * scale / q_cpu,
            "agreement_loss": abs(pl_loss - ql),
            "agreement_grad": max(float(np.max(np.abs(pl_grads[k] - qg[k]))) for k in qg),
        })
    try:
        n_q = min(args.qsim_subset, args.samples)
        qsim_s = qsim_forward(model, Z[:n_q])
        result["qsim_forward_scaled_s"] = qsim_s * args.samples / n_q
        from qaudit.engine import forward

        _, _, program, obs, _ = model.compiled[:5]
        f_best, _ = best_and_median(lambda: forward(program, model.weights["theta"], obs, states=Z), args.repeat)
        result["qaudit_forward_best_s"] = f_best
    except ImportError as exc:
        result["qsim"] = f"not installed ({exc})"

    if args.json:
        print(json.dumps(result, indent=1))
        return
    print(result["workload"])
    print(f"machine: {result['machine']}")
    print(f"qaudit (shared unitary + adjoint): best {q_best * 1e3:.1f} ms, median {q_median * 1e3:.1f} ms, "
          f"CPU {q_cpu * 1e3:.1f} ms")
    if "pennylane_scaled_s" in result:
        print(f"PennyLane lightning.qubit adjoint: {result['pennylane_subset_s']:.2f} s on "
              f"{result['pennylane_subset']} samples -> {result['pennylane_scaled_s']:.1f} s for {args.samples}")
        print(f"ratio: {result['ratio_vs_best']:.0f}x (best), {result['ratio_vs_median']:.0f}x (median), "
              f"{result['ratio_cpu']:.0f}x (CPU time: PennyLane {result['pennylane_cpu_scaled_s']:.1f} s)")
        print(f"agreement on the subset: |loss diff| {result['agreement_loss']:.1e}, "
              f"max |grad diff| {result['agreement_grad']:.1e}")
    else:
        print(f"PennyLane: {result['pennylane']}")
    if "qsim_forward_scaled_s" in result:
        print(f"forward only: Cirq+qsim {result['qsim_forward_scaled_s']:.2f} s (scaled) vs qaudit "
              f"{result['qaudit_forward_best_s'] * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
