"""Audit speed of an imported model: `qaudit import` of a PennyLane QNN, then `qaudit leak` on it.

A PennyLane classifier (AngleEmbedding of 4 PCA features + 2 StronglyEntanglingLayers, <Z_j> readout,
Linear head, 10 classes; weights drawn at random -- speed does not depend on training) on scikit-learn's
digits (1797 samples: 1000 members, 797 holdout) is imported; the import's fidelity check times the
source framework (PennyLane, torch, default.qubit) and qaudit's engine on the same 1797 samples -- the
reference measured in the same run. Then `qaudit leak` with the default attacks is timed as a process,
and LiRA at K = 8 reference models (trained by qaudit's engine with the import's recipe) on the same
model imported with 800 members (online LiRA trains each reference model on half of the 1797 samples,
so 1000 members do not fit).

With ``--encoder`` the model has classical layers before the circuit (issue 15): 8 standardised PCA
features -> ``Linear(8, 4)`` -> ``Tanh`` -> the same circuit; qaudit imports them as the model's encoder
and its reference models train it through the engine's feature gradients.

    python benchmarks/imported.py [--encoder] [--out-dir DIR]

Needs the pennylane extra (pip install "torch==2.13.0" && pip install -e ".[pennylane]").
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np

MODEL = '''
import pennylane as qml
import torch

dev = qml.device("default.qubit", wires=4)


@qml.qnode(dev, interface="torch")
def circuit(inputs, weights):
    qml.AngleEmbedding(inputs, wires=range(4))
    qml.StronglyEntanglingLayers(weights, wires=range(4))
    return [qml.expval(qml.PauliZ(i)) for i in range(4)]


torch.manual_seed(0)
model = torch.nn.Sequential(qml.qnn.TorchLayer(circuit, {"weights": (2, 4, 3)}), torch.nn.Linear(4, 10))
encoder_model = torch.nn.Sequential(torch.nn.Linear(8, 4), torch.nn.Tanh(),
                                    qml.qnn.TorchLayer(circuit, {"weights": (2, 4, 3)}), torch.nn.Linear(4, 10))
'''


def run(args: list[str]) -> tuple[tuple[float, float], int, str]:
    """``((wall seconds, CPU seconds of the child: user + sys), exit code, output)``; CPU time is what other
    work on shared cores does not inflate."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "qaudit.cli.app", *args], capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return (wall, cpu), proc.returncode, proc.stderr + proc.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", type=Path, default=None)
    parser.add_argument("--encoder", action="store_true", help="the model with Linear + Tanh before the circuit")
    options = parser.parse_args()
    out = options.out_dir or Path(tempfile.mkdtemp(prefix="qaudit-imported-"))
    attr = "encoder_model" if options.encoder else "model"
    from sklearn.datasets import load_digits
    from sklearn.decomposition import PCA

    digits = load_digits()
    Z = PCA(8 if options.encoder else 4, random_state=0).fit_transform(digits.data / 16.0)
    if options.encoder:
        X = (Z - Z.mean(axis=0)) / Z.std(axis=0)
    else:
        X = (Z - Z.min(axis=0)) / (Z.max(axis=0) - Z.min(axis=0)) * np.pi
    np.savez(out / "digits4.npz", X=X, y=digits.target)
    members = np.sort(np.random.default_rng(0).choice(len(X), size=1000, replace=False))
    np.savetxt(out / "members.txt", members, fmt="%d")
    (out / "model.py").write_text(textwrap.dedent(MODEL))
    namespace: dict = {}
    exec((out / "model.py").read_text(), namespace)  # noqa: S102 - the benchmark's own model
    import torch

    with torch.no_grad():
        for p in namespace[attr].parameters():
            p.add_(torch.randn_like(p))
    torch.save(namespace[attr].state_dict(), out / "weights.pt")
    seconds, code, text = run(["import", "pennylane", f"{out / 'model.py'}:{attr}", "--weights",
                               str(out / "weights.pt"), "--dataset", str(out / "digits4.npz"), "--members",
                               str(out / "members.txt"), "--out", str(out / "model.json"), "--force"])
    assert code == 0, text
    fidelity = json.loads((out / "model.json").read_text())["provenance"]["import"]["fidelity"]
    rows = [("import (run user code, trace, check 1797 samples)", seconds, code)]
    np.savetxt(out / "members800.txt", members[:800], fmt="%d")
    _, code, text = run(["import", "pennylane", f"{out / 'model.py'}:{attr}", "--weights", str(out / "weights.pt"),
                         "--dataset", str(out / "digits4.npz"), "--members", str(out / "members800.txt"),
                         "--out", str(out / "model800.json"), "--force"])
    assert code == 0, text
    for label, model, extra in (("leak, default attacks, 1000 members + 797 holdout", "model.json", []),
                                ("leak, LiRA K = 8, 800 members + 997 holdout", "model800.json",
                                 ["-a", "lira", "-K", "8"])):
        seconds, code, text = run(["leak", str(out / model), "-f", "json", "-o", str(out / "leak.json"), *extra])
        assert code in (0, 1), text
        rows.append((label, seconds, code))
    print(f"model: {attr}; max |dp| = {fidelity['max_abs_diff']:.2e} over {fidelity['n_samples']} samples; "
          f"forward pass on them: PennyLane {fidelity['seconds_source']:.3f} s, qaudit engine "
          f"{fidelity['seconds_qaudit']:.3f} s "
          f"(ratio {fidelity['seconds_source'] / max(fidelity['seconds_qaudit'], 1e-9):.1f}x)")
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print("| step | wall time (s) | CPU time, user + sys (s) | exit |")
    print("|---|---|---|---|")
    for label, (wall, cpu), code in rows:
        print(f"| {label} | {wall:.1f} | {cpu:.1f} | {code} |")


if __name__ == "__main__":
    main()
