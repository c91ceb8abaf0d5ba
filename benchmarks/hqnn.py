"""Issue 4: the paper's models at paper scale, end to end, plus a PennyLane reference.

    .venv/bin/python benchmarks/hqnn.py [--layers 1,5] [--epochs 25] [--pl-batches 20] [--json]

Measured in one run on the same MNIST split (1000 members / 500 holdout, seed 0):

1. HQNN paper configuration (SGD lr 0.1, momentum 0.9, batch 8, 25 epochs) for each
   ``--layers`` value: training wall time, CPU time and holdout accuracy;
2. the basic QNN paper configuration (8 qubits, 5 layers, PCA-256, Nesterov lr 0.05,
   batch 32, 10 epochs): the same numbers;
3. the HQNN's quantum layer alone (8 qubits, 1 layer, amplitude-encoded batch of 8:
   forward + backward to θ *and* to the input state, which the CNN needs) on the qaudit
   engine and on PennyLane ``default.qubit`` (autograd backprop, broadcast over the
   batch -- what the authors' TorchLayer does) and ``lightning.qubit`` (adjoint; θ only,
   one sample per execution since it cannot differentiate the input state), with the
   gradients cross-checked and the ratio;
4. the effect of limiting BLAS to one thread during HQNN training (one epoch each way).

``--vs-torch`` (issue 19) instead times the HQNN paper configuration (1 quantum layer, 25
epochs, batch 8) against a hand-written PyTorch HQNN of the same configuration
(``benchmarks/hqnn_torch.py``), interleaved qaudit / torch, ``--repeats`` times, reporting
medians, holdout accuracies and a per-epoch breakdown of the qaudit step. torch is
bench-only (``pip install torch``) and is pinned to one intra-op thread like qaudit's BLAS.

PennyLane is the ``bench`` extra (``pip install pennylane pennylane-lightning``); without
it, step 3 reports the engine alone. Timings on a shared machine are noisy: the load
average is printed and CPU time is reported next to wall time.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

MNIST_DIR = os.environ.get("QAUDIT_MNIST_DIR") or str(Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist")


def train_and_score(kind: str, dataset, options: dict) -> dict:
    from qaudit.train.workflows import evaluate_model, train_model

    wall, cpu = time.perf_counter(), time.process_time()
    mf = train_model(kind, dataset, n_train=1000, n_holdout=500, seed=0, options=options)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    splits = evaluate_model(mf, dataset).splits
    return {"model": kind, "options": options, "train_wall_s": wall, "train_cpu_s": cpu,
            "fit_s": mf.training["seconds"], "members_acc": splits["members"]["accuracy"],
            "holdout_acc": splits["holdout"]["accuracy"]}


def quantum_layer_inputs(seed: int = 0, batch: int = 8):
    from qaudit_qnn.hqnn import HQNN

    rng = np.random.default_rng(seed)
    model = HQNN(layers=1)
    _, _, program, obs, _ = model.compiled[:5]
    theta = rng.uniform(-np.pi, np.pi, len(program.param_names))
    x = np.abs(rng.normal(size=(batch, 256))) * (rng.random((batch, 256)) > 0.3)  # LeakyReLU-like features
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    d_ev = rng.normal(size=(batch, 8))  # upstream gradient dL/d<Z>
    return program, obs, theta, x, d_ev


def engine_step(program, obs, theta, x, d_ev):
    from qaudit.engine import backward, choose_method, forward

    ev, cache = forward(program, theta, obs, states=x.astype(np.complex128), method=choose_method(program, len(x)))
    g_theta, d_psi0 = backward(cache, d_ev, input_grad=True)
    return ev, g_theta, 2.0 * d_psi0.real


def time_per_call(fn, calls: int) -> float:
    fn()  # warm-up
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls


def _ring_layer(qml, n, state, angles):
    """The HQNN quantum layer in PennyLane: amplitude-encode, one U3 + CNOT-ring layer, <Z_q>."""
    qml.StatePrep(state, wires=range(n))
    t = angles.reshape(1, n, 3)
    for q in range(n):
        qml.U3(t[0, q, 0], t[0, q, 1], t[0, q, 2], wires=q)
    for q in range(n):
        qml.CNOT(wires=[q, (q + 1) % n])
    return [qml.expval(qml.PauliZ(q)) for q in range(n)]


def pennylane_default_qubit(theta, x, d_ev):
    """default.qubit + autograd backprop, broadcast over the batch: (step function, results)."""
    import pennylane as qml
    from pennylane import numpy as pnp

    n = 8
    dev = qml.device("default.qubit", wires=n)

    @qml.qnode(dev, interface="autograd", diff_method="backprop")
    def circuit(states, angles):
        return _ring_layer(qml, n, states, angles)

    def objective(states, angles):
        ev = pnp.stack(circuit(states, angles), axis=-1)  # (batch, 8)
        return pnp.sum(ev * d_ev)

    grad = qml.grad(objective, argnums=[0, 1])
    xs = pnp.array(x, requires_grad=True)
    th = pnp.array(theta, requires_grad=True)

    def step():
        return grad(xs, th)

    g_x, g_theta = step()
    ev = np.stack([np.asarray(v) for v in circuit(xs, th)], axis=-1)
    return step, ev, np.asarray(g_theta), np.asarray(g_x)


def pennylane_lightning(theta, x, d_ev):
    """lightning.qubit + adjoint, one execution per sample (θ gradient only)."""
    import pennylane as qml
    from pennylane import numpy as pnp

    n = 8
    dev = qml.device("lightning.qubit", wires=n)

    @qml.qnode(dev, diff_method="adjoint")
    def circuit(state, angles):
        return _ring_layer(qml, n, state, angles)

    def objective(angles):
        total = 0.0
        for i in range(len(x)):
            total = total + pnp.sum(pnp.stack(circuit(pnp.array(x[i], requires_grad=False), angles)) * d_ev[i])
        return total

    grad = qml.grad(objective, argnums=0)
    th = pnp.array(theta, requires_grad=True)

    def step():
        return grad(th)

    return step, np.asarray(step())


def quantum_layer(pl_batches: int, engine_calls: int, threads: int) -> dict:
    """All contenders with BLAS/OpenMP limited to *threads* (load the libraries first so the limit applies)."""
    from threadpoolctl import threadpool_limits

    with contextlib.suppress(ImportError):
        import pennylane as qml

        qml.device("lightning.qubit", wires=1)  # loads lightning's OpenMP runtime
    with threadpool_limits(limits=threads):
        out = _quantum_layer(pl_batches, engine_calls)
    out["threads"] = threads
    return out


def _quantum_layer(pl_batches: int, engine_calls: int) -> dict:
    program, obs, theta, x, d_ev = quantum_layer_inputs()
    ev, g_theta, g_x = engine_step(program, obs, theta, x, d_ev)
    out: dict = {"engine_ms_per_batch": 1e3 * time_per_call(lambda: engine_step(program, obs, theta, x, d_ev),
                                                            engine_calls)}
    try:
        step, pl_ev, pl_g_theta, pl_g_x = pennylane_default_qubit(theta, x, d_ev)
    except ImportError as exc:
        out["pennylane"] = f"not installed ({exc}); pip install pennylane pennylane-lightning"
        return out
    out["default_qubit_ms_per_batch"] = 1e3 * time_per_call(step, pl_batches)
    out["default_qubit_ratio"] = out["default_qubit_ms_per_batch"] / out["engine_ms_per_batch"]
    out["agreement_ev"] = float(np.max(np.abs(pl_ev - ev)))
    out["agreement_grad_theta"] = float(np.max(np.abs(pl_g_theta - g_theta)))
    out["agreement_grad_input"] = float(np.max(np.abs(pl_g_x - g_x)))
    try:
        step, lt_g_theta = pennylane_lightning(theta, x, d_ev)
    except Exception as exc:  # noqa: BLE001 - report, do not abort the benchmark
        out["lightning"] = f"failed: {type(exc).__name__}: {exc}"
        return out
    out["lightning_ms_per_batch"] = 1e3 * time_per_call(step, max(2, pl_batches // 2))
    out["lightning_ratio"] = out["lightning_ms_per_batch"] / out["engine_ms_per_batch"]
    out["agreement_lightning_grad_theta"] = float(np.max(np.abs(lt_g_theta - g_theta)))
    return out


def blas_threads_effect(dataset) -> dict:
    """One HQNN epoch on 1000 images with BLAS limited to one thread (default) vs the library default."""
    from qaudit_qnn import layers
    from qaudit_qnn.hqnn import HQNN

    X, y = dataset.X[:1000], dataset.y[:1000]
    model = HQNN(epochs=1, seed=0).initialise(X, y, n_classes=10)
    out = {}
    for label, limiter in (("one_thread_s", layers.single_threaded), ("blas_default_s", contextlib.nullcontext)):
        original = layers.single_threaded
        layers.single_threaded = limiter
        try:
            m = model.copy()
            start = time.perf_counter()
            m.partial_fit(X, y, epochs=1)
            out[label] = time.perf_counter() - start
        finally:
            layers.single_threaded = original
    out["slowdown"] = out["blas_default_s"] / out["one_thread_s"]
    return out


def _median(runs: list[dict], key: str) -> float:
    return float(np.median([r[key] for r in runs]))


def torch_train_and_score(dataset, epochs: int, threads: int) -> dict:
    import sys

    import torch

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import hqnn_torch

    from qaudit.files.data import split

    torch.set_num_threads(threads)
    members, holdout = split(dataset.y, 1000, 500, 0)
    wall, cpu = time.perf_counter(), time.process_time()
    model = hqnn_torch.train(dataset.X[members], dataset.y[members], epochs=epochs, seed=0)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {"train_wall_s": wall, "train_cpu_s": cpu,
            "holdout_acc": hqnn_torch.accuracy(model, dataset.X[holdout], dataset.y[holdout])}


def epoch_breakdown(dataset, batches: int = 125) -> dict:
    """Seconds per epoch (125 batches of 8) in each part of a qaudit HQNN training step."""
    from qaudit_qnn import layers
    from qaudit_qnn.hqnn import HQNN

    from qaudit.engine import backward, choose_method, forward
    from qaudit.train.classifier import cross_entropy_grad
    from qaudit.train.training import SGD

    X, y = dataset.X[:1000], dataset.y[:1000]
    m = HQNN(seed=0).initialise(X, y, n_classes=10)
    Z, yb = m.transform(X[:8]), y[:8]
    program, obs, w = m.compiled.program, m.compiled.observables, m.weights
    z, cache = m._classical_forward(Z)
    ev, qc = forward(program, w["theta"], obs, states=z.astype(np.complex128), method=choose_method(program, 8))
    _, dl = cross_entropy_grad(m.head(ev), yb)
    d_ev = dl @ w["W"].T
    _, d_psi = backward(qc, d_ev, input_grad=True)
    grads = m._loss_grad_chunk(Z, yb, False)[1]
    opt, ws = SGD(lr=0.1, momentum=0.9), {k: v.copy() for k, v in w.items()}
    parts = {
        "classical forward (conv, pool, 980->256, L2)": lambda: m._classical_forward(Z),
        "quantum layer forward + backward (engine)": lambda: backward(forward(
            program, w["theta"], obs, states=z.astype(np.complex128), method=choose_method(program, 8))[1],
            d_ev, input_grad=True),
        "classical backward": lambda: m._classical_backward(2.0 * d_psi.real, cache, False),
        "SGD momentum update": lambda: opt.step(ws, grads),
        "whole step (loss + all gradients, no update)": lambda: m._loss_grad_encoded(Z, yb),
    }
    out = {}
    with layers.single_threaded():
        for name, fn in parts.items():
            fn()
            times = []
            for _ in range(3):
                start = time.perf_counter()
                for _ in range(batches):
                    fn()
                times.append(time.perf_counter() - start)
            out[name] = min(times)
    return out


def vs_torch(dataset, repeats: int, epochs: int, threads: int) -> dict:
    """qaudit and the PyTorch HQNN, interleaved, *repeats* times each."""
    qaudit_runs, torch_runs = [], []
    for _ in range(repeats):
        qaudit_runs.append(train_and_score("hqnn", dataset, {"layers": 1, "epochs": epochs}))
        torch_runs.append(torch_train_and_score(dataset, epochs, threads))
    out = {"repeats": repeats, "epochs": epochs, "torch_threads": threads,
           "qaudit_runs": qaudit_runs, "torch_runs": torch_runs}
    for name, runs in (("qaudit", qaudit_runs), ("torch", torch_runs)):
        for key in ("train_wall_s", "train_cpu_s", "holdout_acc"):
            out[f"{name}_{key}"] = _median(runs, key)
    out["speedup_wall"] = out["torch_train_wall_s"] / out["qaudit_train_wall_s"]
    out["breakdown_s_per_epoch"] = epoch_breakdown(dataset)
    return out


def print_vs_torch(result: dict) -> None:
    v = result["vs_torch"]
    print(f"machine: {result['machine']}; load average {result['load_before']:.2f} -> {result['load_after']:.2f}")
    print(f"HQNN paper config (1 quantum layer, {v['epochs']} epochs, batch 8, 1000 MNIST members), "
          f"median of {v['repeats']} interleaved runs:")
    print("| implementation | train wall (s) | train CPU (s) | holdout acc | runs (wall s) |")
    print("|---|---|---|---|---|")
    for name, label in (("qaudit", "qaudit (numpy + engine, 1 BLAS thread)"),
                        ("torch", f"hand-written PyTorch, {v['torch_threads']} thread(s)")):
        walls = ", ".join(f"{r['train_wall_s']:.1f}" for r in v[f"{name}_runs"])
        print(f"| {label} | {v[f'{name}_train_wall_s']:.2f} | {v[f'{name}_train_cpu_s']:.2f} | "
              f"{v[f'{name}_holdout_acc']:.3f} | {walls} |")
    print(f"qaudit is {v['speedup_wall']:.2f}x faster (wall, medians)")
    print("| part of a qaudit step | s per epoch (125 batches) |")
    print("|---|---|")
    for name, seconds in v["breakdown_s_per_epoch"].items():
        print(f"| {name} | {seconds:.3f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", default="1,5", help="HQNN quantum layers to train (comma-separated)")
    parser.add_argument("--epochs", type=int, default=25, help="HQNN epochs (paper: 25)")
    parser.add_argument("--basic-epochs", type=int, default=10, help="basic QNN epochs (paper config: 10)")
    parser.add_argument("--pl-batches", type=int, default=20, help="PennyLane batches timed")
    parser.add_argument("--engine-batches", type=int, default=300, help="engine batches timed")
    parser.add_argument("--threads", type=int, default=1,
                        help="BLAS/OpenMP threads for the quantum-layer comparison (all contenders)")
    parser.add_argument("--skip-training", action="store_true", help="only the quantum-layer comparison")
    parser.add_argument("--vs-torch", action="store_true",
                        help="only: HQNN paper config vs a hand-written PyTorch HQNN (issue 19)")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved repeats for --vs-torch")
    parser.add_argument("--torch-threads", type=int, default=1, help="torch intra-op threads for --vs-torch")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    import warnings

    warnings.filterwarnings("ignore", message="Casting complex values")  # autograd inside PennyLane
    import cirq  # noqa: F401 - import once up front so no timing includes it
    import sklearn.model_selection  # noqa: F401

    from qaudit.files.data import load_dataset

    result: dict = {"machine": f"{platform.machine()}, {os.cpu_count()} cores, numpy {np.__version__}",
                    "load_before": os.getloadavg()[0], "runs": []}
    if args.vs_torch:
        dataset = load_dataset("mnist", {"data_dir": MNIST_DIR})
        result["vs_torch"] = vs_torch(dataset, args.repeats, args.epochs, args.torch_threads)
        result["load_after"] = os.getloadavg()[0]
        if args.json:
            print(json.dumps(result, indent=1))
        else:
            print_vs_torch(result)
        return
    if not args.skip_training:
        if not Path(MNIST_DIR).is_dir():
            raise SystemExit(f"MNIST not found in {MNIST_DIR} (set QAUDIT_MNIST_DIR)")
        dataset = load_dataset("mnist", {"data_dir": MNIST_DIR})
        for n_layers in [int(v) for v in args.layers.split(",") if v]:
            result["runs"].append(train_and_score("hqnn", dataset, {"layers": n_layers, "epochs": args.epochs}))
        result["runs"].append(train_and_score("basic-qnn", dataset, {"epochs": args.basic_epochs}))
        result["blas_threads"] = blas_threads_effect(dataset)
    result["quantum_layer"] = quantum_layer(args.pl_batches, args.engine_batches, args.threads)
    result["load_after"] = os.getloadavg()[0]

    if args.json:
        print(json.dumps(result, indent=1))
        return
    print(f"machine: {result['machine']}; load average {result['load_before']:.1f} -> {result['load_after']:.1f}")
    if result["runs"]:
        print("| model | config | train wall (s) | train CPU (s) | members acc | holdout acc |")
        print("|---|---|---|---|---|---|")
        for run in result["runs"]:
            o = run["options"]
            config = (f"{o['layers']} quantum layer(s), {o['epochs']} epochs, batch 8" if run["model"] == "hqnn"
                      else f"8 qubits x 5 layers, PCA-256, {o['epochs']} epochs, batch 32")
            print(f"| {run['model']} | {config} | {run['train_wall_s']:.1f} | {run['train_cpu_s']:.1f} | "
                  f"{run['members_acc']:.3f} | {run['holdout_acc']:.3f} |")
        bt = result["blas_threads"]
        print(f"HQNN epoch with BLAS limited to 1 thread {bt['one_thread_s']:.2f} s vs library default "
              f"{bt['blas_default_s']:.2f} s ({bt['slowdown']:.1f}x)")
    q = result["quantum_layer"]
    print(f"HQNN quantum layer, 8 qubits x 1 layer, batch 8, forward + backward (θ and input), "
          f"{q['threads']} BLAS/OpenMP thread(s):")
    print(f"  qaudit engine: {q['engine_ms_per_batch']:.3f} ms/batch")
    if "default_qubit_ms_per_batch" in q:
        print(f"  PennyLane default.qubit backprop (broadcast): {q['default_qubit_ms_per_batch']:.1f} ms/batch "
              f"-> {q['default_qubit_ratio']:.0f}x; agreement ev {q['agreement_ev']:.1e}, "
              f"dθ {q['agreement_grad_theta']:.1e}, dx {q['agreement_grad_input']:.1e}")
    if "lightning_ms_per_batch" in q:
        print(f"  PennyLane lightning.qubit adjoint (θ only, per sample): {q['lightning_ms_per_batch']:.1f} ms/batch "
              f"-> {q['lightning_ratio']:.0f}x; agreement dθ {q['agreement_lightning_grad_theta']:.1e}")
    for key in ("pennylane", "lightning"):
        if key in q:
            print(f"  {key}: {q[key]}")


if __name__ == "__main__":
    main()
