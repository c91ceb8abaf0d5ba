"""``qaudit demo``: the whole pipeline on the embedded digits data.

Train the basic QNN, then run :data:`STAGES` in order: a leak audit, a small shot
study and unlearning of digit 4. Every stage calls only the host's public workflow
functions (:mod:`qaudit.train.workflows`, :mod:`qaudit.leak.audit`, :mod:`qaudit.shots`,
:mod:`qaudit.unlearn`).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

DEMO_MODEL = "basic-qnn"
DEMO_OPTIONS = {"qubits": 6, "layers": 5, "epochs": 40, "lr": 0.05, "batch_size": 32}
#: Attacks of the leak stage (fast: no reference models).
DEMO_ATTACKS = ("gray-box", "loss", "confidence", "entropy")
#: Shot counts of the shot-study stage.
DEMO_SHOTS = "16,256,exact"
#: Class the unlearning stage forgets.
FORGET_CLASS = 4


def run_demo(out_dir: Path, seed: int, err: Any, out: Any) -> None:
    """Train the basic QNN on digits, save it, evaluate it, then run every stage in :data:`STAGES`."""
    from qaudit.sdk import RichProgress, load_dataset, save_model_file
    from qaudit.sdk.workflows import evaluate_model, train_model

    out_dir.mkdir(exist_ok=True)  # the command created it (at most one missing level without --parents)
    start = time.perf_counter()
    ds = load_dataset("digits")
    err.print(f"[bold]train[/] {DEMO_MODEL} {DEMO_OPTIONS} on digits (1000 members / 500 holdout)")
    with RichProgress(err) as progress:
        mf = train_model(DEMO_MODEL, ds, n_train=1000, n_holdout=500, seed=seed, options=DEMO_OPTIONS,
                         progress=progress)
    path = out_dir / "model.json"
    save_model_file(mf, path, command=f"qaudit demo --seed {seed}")
    mf.path = str(path)
    ev = evaluate_model(mf, ds)
    out.print(f"[bold]model[/] {path}: member accuracy {ev.splits['members']['accuracy']:.3f}, "
              f"holdout accuracy {ev.splits['holdout']['accuracy']:.3f}")
    for stage in STAGES:
        stage(mf, ds, out_dir, seed, err, out)
    err.print(f"demo finished in {time.perf_counter() - start:.1f} s")


def leak_stage(mf: Any, dataset: Any, out_dir: Path, seed: int, err: Any, out: Any) -> None:
    """A fast leak audit (threshold + gray-box attacks), HTML and JSON reports."""
    import io

    from qaudit.sdk import RichProgress, get_host, write_text_atomic
    from qaudit.sdk.workflows import AuditSettings, ground_truth, run_audit

    path = getattr(mf, "path", None) or "model.json"
    err.print(f"[bold]leak[/] audit of {path}: attacks {', '.join(DEMO_ATTACKS)}, 1024 shots")
    settings = AuditSettings(attacks=list(DEMO_ATTACKS), shots=1024, seed=seed, slices=["class"])
    with RichProgress(err) as progress:
        report = run_audit(mf, dataset, ground_truth(mf, len(dataset)), settings, progress=progress,
                           location=str(path))
    host = get_host()
    for fmt, name in (("html", "leak.html"), ("json", "leak.json")):
        buffer = io.StringIO()
        host.get("reporter", fmt)().render(report, buffer)
        write_text_atomic(Path(out_dir) / name, buffer.getvalue())
    from rich.markup import escape

    out.print(f"[bold]leak[/] {escape(report.verdict)}", highlight=False)
    for name, run in report.payload["attacks"].items():
        m = run["metrics"]
        out.print(f"  {name:<12} AUC {m['auc']:.3f} [{m['auc_low']:.3f}, {m['auc_high']:.3f}]  "
                  f"TPR@1%FPR {m['tpr@1%fpr']:.3f}  distinguishability >= {m['distinguishability']:.2f}",
                  highlight=False, markup=False)
    err.print(f"wrote {Path(out_dir) / 'leak.html'} and {Path(out_dir) / 'leak.json'}", markup=False)


def shots_stage(mf: Any, dataset: Any, out_dir: Path, seed: int, err: Any, out: Any) -> None:
    """The loss attack's AUC at a few shot counts (3 seeded repeats each)."""
    from rich.table import Table

    from qaudit.sdk.workflows import ShotSettings, parse_shots, run_study

    err.print(f"[bold]shots[/] leakage of the loss attack at {DEMO_SHOTS} shots, 3 repeats each")
    settings = ShotSettings(shots=parse_shots(DEMO_SHOTS), repeats=3, seed=seed, backend="sampled", attack="loss",
                            forget_class=None, unlearn=None, unlearn_options={}, n_bootstrap=100)
    report = run_study(mf, dataset, settings, location=str(mf.path))
    table = Table(title="leakage vs shots (mean ± std over repeats)")
    for col in ("shots", "loss-attack AUC", "output jitter"):
        table.add_column(col)
    for subject, m in report.measurements.items():
        table.add_row(subject.split("=", 1)[1], f"{m['auc_mean']:.3f} ± {m['auc_std']:.3f}",
                      f"{m.get('output_jitter', 0.0):.4f}")
    out.print(table)
    out.print(f"full study: qaudit shots {mf.path} --shots 16,64,256,1024,4096,exact --forget-class {FORGET_CLASS}")


def unlearning_stage(mf: Any, dataset: Any, out_dir: Path, seed: int, err: Any, out: Any) -> None:
    """Forget digit 4 with SSD and verify it (accuracy and gray-box MIA before/after).

    The retrain-oracle comparison is left to ``qaudit unlearn`` (it retrains the model,
    which would double the demo's run time).
    """
    from rich.table import Table

    from qaudit.sdk import get_host, save_model_file
    from qaudit.sdk import workflows as wf

    start = time.perf_counter()
    err.print(f"[bold]unlearn[/] forget digit {FORGET_CLASS} with ssd (Fisher dampening), verify with the "
              f"gray-box MIA")
    fs = wf.resolve_forget(mf, dataset, [FORGET_CLASS], None)
    verifier = wf.Verifier(mf, dataset, fs, seed)
    before = verifier.snapshot(mf.model)
    request = wf.build_request(get_host().get("unlearning", "ssd"), dataset, fs, seed, {},
                                 getattr(mf.model, "n_classes", dataset.n_classes))
    outcome = wf.run_method("ssd", mf.model, request)
    after = verifier.snapshot(outcome.model)
    result = wf.MethodResult("ssd", ["forget", "train"], {}, seed, outcome.model, outcome.cost, outcome.details,
                               after, {}, float("nan"))
    path = out_dir / "model.unlearned.json"
    save_model_file(wf.unlearned_model_file(mf, result, fs), path, command=f"qaudit demo --seed {seed}")

    table = Table(title=f"unlearning digit {FORGET_CLASS} with ssd ({outcome.cost.gradient_evaluations} "
                        f"per-sample gradients, {outcome.cost.seconds:.2f} s)")
    for col in ("measure", "before", "after"):
        table.add_column(col)
    for label, key in (("forget-set accuracy", "forget"), ("retained accuracy", "retain"),
                       ("holdout accuracy", "holdout")):
        table.add_row(label, f"{100 * before['accuracy'][key]:.1f}%", f"{100 * after['accuracy'][key]:.1f}%")
    table.add_row(f"forget MIA AUC vs holdout digit {FORGET_CLASS}", f"{before['forget_mia_auc']:.3f}",
                  f"{after['forget_mia_auc']:.3f}")
    table.add_row("forget members called member (paper)", f"{100 * before['forget_mia']:.1f}%",
                  f"{100 * after['forget_mia']:.1f}%")
    out.print(table)
    out.print(f"[bold]unlearned model[/] {path} ({time.perf_counter() - start:.1f} s); full verification with the "
              f"retrain oracle: qaudit unlearn {out_dir / 'model.json'} --method ssd --forget-class {FORGET_CLASS}")


#: The demo's stages after training, in order: ``stage(mf, dataset, out_dir, seed, err, out)``.
STAGES = (leak_stage, shots_stage, unlearning_stage)
