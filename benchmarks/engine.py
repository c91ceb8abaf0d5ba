"""Workload W1 (issues 3 and 19): basic QNN, 8 qubits x 5 layers, loss + gradient of every
parameter (circuit θ, head W and b) over 1000 amplitude-encoded samples.

    .venv/bin/python benchmarks/engine.py [--samples 1000] [--pl-subset 50] [--rounds 7] [--json]

Single-threaded throughout (``OMP_NUM_THREADS=1`` is set before numpy and PennyLane load, BLAS is
limited with threadpoolctl). Each round times qaudit (median of ``--repeat`` calls) and then
PennyLane ``lightning.qubit`` with ``diff_method="adjoint"`` (the ``bench`` extra) on a subset of
the same samples, scaled linearly to the full count; the ratio is taken per round and the median
over rounds is reported with the load average before and after. Gradients of both on the subset
must agree to 1e-12. The run also measures the machine's single-threaded matmul throughput and
reports the fraction of it the engine reaches (its GEMM work counted from the program's stages),
and the time of the two batch GEMMs no shared-unitary method can avoid (the fused-unitary limit).
"""

from __future__ import annotations

import os

if __name__ == "__main__":  # before numpy/OpenBLAS and lightning's OpenMP runtime load
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import json
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


def pennylane_loss_and_grad(model):
    """A function (rows, labels) -> (loss, grads of θ, W, b) with lightning.qubit + adjoint (warmed up)."""
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

    def run(rows, labels):
        grads = grad_fn(theta, W, b, rows, labels)
        return {"theta": np.asarray(grads[0]), "W": np.asarray(grads[1]), "b": np.asarray(grads[2])}

    run(model.transform(np.ones((1, 2**n))), np.zeros(1, dtype=int))  # warm-up (device, caches)
    return run, lambda rows, labels: float(cost(theta, W, b, rows, labels))


def engine_gemm_flops(model, n_samples: int) -> dict[str, float]:
    """Floating-point operations of the GEMM work in one W1 call of the engine, counted from its stages.

    The two batch GEMMs (ψ = X·Uᵀ and G = Xᵀ·λ on float views: 2·B·2^n·2^(n+1) each), and per
    Kronecker chunk of 2^k qubits one complex (2^k x 2^k)·(2^k x 4^n/2^k) product (8·2^k·4^n) for
    each application while building U (the first layer is a Kronecker product, no GEMM), each
    overlap and each backward application in the sweep.
    """
    from qaudit.engine.statevector import resolve, stages, trainable_stages

    program = model.compiled.program
    resolved = resolve(program, model.weights["theta"])
    staged = stages(program, resolved)
    need = trainable_stages(program, resolved)
    first = need.index(True)
    dim = program.dim
    chunk = [sum(8 * 2**k * dim * dim for _, k, _ in s.chunks) if s.chunks else 0 for s in staged]
    build = sum(chunk[1:]) if staged[0].chunks else sum(chunk)
    overlaps = sum(c for c, flag in zip(chunk, need) if flag)
    backward_moves = sum(chunk[first + 1:])
    batch = 2 * (2 * n_samples * dim * 2 * dim)
    return {"batch_gemms": float(batch), "stage_gemms": float(build + overlaps + backward_moves),
            "total": float(batch + build + overlaps + backward_moves)}


def matmul_throughput(size: int = 1024, repeat: int = 7) -> float:
    """Single-threaded float64 GEMM throughput of this machine (GFLOP/s of CPU time, best of *repeat*)."""
    rng = np.random.default_rng(0)
    a, b = rng.random((size, size)), rng.random((size, size))
    a @ b
    best = min(timed(lambda: a @ b, 1)[2] for _ in range(repeat))
    return 2 * size**3 / best / 1e9


def batch_gemms(model, Z: np.ndarray, repeat: int) -> float:
    """Median CPU seconds of the two batch GEMMs alone (the fused-unitary limit)."""
    dim = model.compiled.program.dim
    rng = np.random.default_rng(1)
    u_t = rng.random((dim, 2 * dim))
    lam = rng.random((len(Z), 2 * dim))

    def both():
        Z @ u_t
        Z.T @ lam

    return timed(both, repeat)[2]


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
    parser.add_argument("--pl-subset", type=int, default=50, help="PennyLane samples per round (scaled)")
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds: qaudit, then PennyLane")
    parser.add_argument("--repeat", type=int, default=7, help="qaudit calls per round (median)")
    parser.add_argument("--qsim-subset", type=int, default=0, help="also time a Cirq + qsim forward (0 = skip)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        result = measure(args)
    if args.json:
        print(json.dumps(result, indent=1))
        return
    report(result, args)


def measure(args: argparse.Namespace) -> dict:
    model, Z, y = make_model(args.qubits, args.layers, args.samples, args.seed)
    model._loss_grad_encoded(Z, y)  # warm-up (compiles the circuit)
    sub = slice(0, min(args.pl_subset, args.samples))
    scale = args.samples / (sub.stop - sub.start)
    result = {
        "workload": f"W1: basic QNN {args.qubits} qubits x {args.layers} layers, loss + grad, {args.samples} samples",
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, numpy {np.__version__}, "
                   f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, BLAS limited to 1 thread",
        "rounds": [],
    }
    try:
        pl_run, pl_cost = pennylane_loss_and_grad(model)
    except ImportError as exc:
        pl_run = None
        result["pennylane"] = f"not installed ({exc}); pip install -e '.[bench]'"
    for _ in range(args.rounds):
        load_before = os.getloadavg()[0]
        q_best, q_median, q_cpu = timed(lambda: model._loss_grad_encoded(Z, y), args.repeat)
        row = {"load_before": load_before, "qaudit_best_s": q_best, "qaudit_median_s": q_median,
               "qaudit_cpu_s": q_cpu}
        if pl_run is not None:
            start, start_cpu = time.perf_counter(), time.process_time()
            pl_run(Z[sub], y[sub])
            pl_wall, pl_cpu = time.perf_counter() - start, time.process_time() - start_cpu
            row.update(pennylane_wall_s=pl_wall * scale, pennylane_cpu_s=pl_cpu * scale,
                       ratio_wall=pl_wall * scale / q_median, ratio_cpu=pl_cpu * scale / q_cpu)
        row["load_after"] = os.getloadavg()[0]
        result["rounds"].append(row)
    rounds = result["rounds"]
    med = {key: float(np.median([r[key] for r in rounds])) for key in rounds[0] if key != "load_before"}
    result["median"] = med
    result["load"] = [min(r["load_before"] for r in rounds), max(r["load_after"] for r in rounds)]
    if pl_run is not None:
        grads = pl_run(Z[sub], y[sub])
        ql, qg = model._loss_grad_encoded(Z[sub], y[sub])
        result["agreement_loss"] = abs(pl_cost(Z[sub], y[sub]) - ql)
        result["agreement_grad"] = max(float(np.max(np.abs(grads[k] - qg[k]))) for k in qg)
    flops = engine_gemm_flops(model, args.samples)
    peak = matmul_throughput()
    result.update(
        engine_gflops=flops["total"] / med["qaudit_cpu_s"] / 1e9, machine_gemm_gflops=peak,
        engine_flops=flops, batch_gemms_s=batch_gemms(model, Z, args.repeat))
    result["fraction_of_matmul_peak"] = result["engine_gflops"] / peak
    result["fused_unitary_limit_fraction"] = result["batch_gemms_s"] / med["qaudit_cpu_s"]
    if args.qsim_subset:
        n_q = min(args.qsim_subset, args.samples)
        try:
            result["qsim_forward_scaled_s"] = qsim_forward(model, Z[:n_q]) * args.samples / n_q
        except ImportError as exc:
            result["qsim"] = f"not installed ({exc})"
    return result


def report(result: dict, args: argparse.Namespace) -> None:
    med = result["median"]
    print(result["workload"])
    print(f"machine: {result['machine']}; load average {result['load'][0]:.1f} -> {result['load'][1]:.1f}")
    print(f"{'round':>5} {'load':>5} {'qaudit median ms':>16} {'qaudit CPU ms':>13} {'PennyLane s (scaled)':>20} "
          f"{'ratio wall':>10} {'ratio CPU':>9}")
    for i, r in enumerate(result["rounds"]):
        pl = (f"{r['pennylane_wall_s']:20.1f} {r['ratio_wall']:9.0f}x {r['ratio_cpu']:8.0f}x"
              if "ratio_wall" in r else f"{'-':>20} {'-':>10} {'-':>9}")
        print(f"{i:5d} {r['load_before']:5.1f} {r['qaudit_median_s'] * 1e3:16.1f} {r['qaudit_cpu_s'] * 1e3:13.1f} {pl}")
    print(f"qaudit: median {med['qaudit_median_s'] * 1e3:.1f} ms wall, {med['qaudit_cpu_s'] * 1e3:.1f} ms CPU "
          f"(best {min(r['qaudit_best_s'] for r in result['rounds']) * 1e3:.1f} ms)")
    if "ratio_wall" in med:
        print(f"PennyLane lightning.qubit adjoint ({args.pl_subset} samples per round, scaled to {args.samples}): "
              f"median {med['pennylane_wall_s']:.1f} s wall, {med['pennylane_cpu_s']:.1f} s CPU")
        print(f"ratio (median over {len(result['rounds'])} rounds): {med['ratio_wall']:.0f}x wall, "
              f"{med['ratio_cpu']:.0f}x CPU")
        print(f"agreement on the subset: |loss diff| {result['agreement_loss']:.1e}, "
              f"max |grad diff| {result['agreement_grad']:.1e} (floor 1e-12)")
    else:
        print(f"PennyLane: {result['pennylane']}")
    f = result["engine_flops"]
    print(f"matmul throughput (CPU time): machine {result['machine_gemm_gflops']:.1f} GFLOP/s (1024^3 dgemm, "
          "1 thread); "
          f"engine {result['engine_gflops']:.1f} GFLOP/s on {f['total'] / 1e6:.0f} MFLOP of GEMM work "
          f"({f['batch_gemms'] / 1e6:.0f} batch + {f['stage_gemms'] / 1e6:.0f} stage) = "
          f"{100 * result['fraction_of_matmul_peak']:.0f} % of the machine's matmul rate")
    print(f"fused-unitary limit: the two batch GEMMs alone take {result['batch_gemms_s'] * 1e3:.1f} ms CPU = "
          f"{100 * result['fused_unitary_limit_fraction']:.0f} % of the engine's median CPU time")
    if "qsim_forward_scaled_s" in result:
        print(f"forward only: Cirq+qsim {result['qsim_forward_scaled_s']:.2f} s (scaled)")


if __name__ == "__main__":
    main()
