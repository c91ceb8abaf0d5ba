"""``qaudit demo``: the whole pipeline on the embedded digits data."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from qaudit import model as model_io
from qaudit.data import load_dataset
from qaudit.progress import RichProgress
from qaudit.workflows import evaluate_model, train_model

DEMO_MODEL = "basic-qnn"
DEMO_OPTIONS = {"qubits": 6, "layers": 5, "epochs": 40, "lr": 0.05, "batch_size": 32}


def run_demo(out_dir: Path, seed: int, err: Any, out: Any) -> None:
    """Train the basic QNN on digits, save it, evaluate it (leak/unlearn steps follow)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    ds = load_dataset("digits")
    err.print(f"[bold]train[/] {DEMO_MODEL} {DEMO_OPTIONS} on digits (1000 members / 500 holdout)")
    with RichProgress(err) as progress:
        mf = train_model(DEMO_MODEL, ds, n_train=1000, n_holdout=500, seed=seed, options=DEMO_OPTIONS,
                         progress=progress)
    path = out_dir / "model.json"
    model_io.save(mf, path, command=f"qaudit demo --seed {seed}")
    mf.path = str(path)
    ev = evaluate_model(mf, ds)
    out.print(f"[bold]model[/] {path}: member accuracy {ev.splits['members']['accuracy']:.3f}, "
              f"holdout accuracy {ev.splits['holdout']['accuracy']:.3f}")
    for _, step in sorted(DEMO_STEPS, key=lambda item: item[0]):
        step(mf, ds, out_dir, seed, err, out)
    err.print(f"demo finished in {time.perf_counter() - start:.1f} s")


#: Later pipeline stages as ``(order, step)``; run in increasing order after training.
DEMO_STEPS: list[tuple[int, Any]] = []


def register_step(step: Any, order: int) -> None:
    """Add a stage ``step(mf, dataset, out_dir, seed, err, out)`` to the demo (once).

    Built-in orders: 10 leak audit, 20 shot study, 30 unlearning."""
    if all(existing is not step for _, existing in DEMO_STEPS):
        DEMO_STEPS.append((order, step))
