"""The paper's device experiment, offline (``qaudit reproduce --device BACKEND``; issue 29, item 5).

A small leaking basic QNN (its own settings, :class:`DeviceSettings`: few members, many epochs, so the exact audit
finds leakage and "does leakage survive device noise?" has an answer) is audited before and after unlearning the
forget class on the exact backend and on each device backend (``ibm-fake:FakeSherbrooke``: the device's
calibration snapshot in Runtime's local testing mode), side by side. Per model and backend: the strongest
attack's held-out AUC with its 95% interval, the verdict (Holm over the attacks), the paper's MIA accuracy
(share of forget-class members the gray-box attack calls member) and the device work (jobs, units, QPU-second
estimate). Reference outputs are simulated (the attacks here need none).

Off by default: ``qaudit reproduce`` without ``--device`` never imports a device's packages.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

#: Where leakage is measured: the exact backend, beside every device backend.
EXACT = "exact"
#: The models audited on every backend.
WHICH = ("before", "after")


@dataclass
class DeviceSettings:
    """The device experiment's own model and audit. Defaults fit a 2-core machine: the 6-qubit model's noisy
    Aer simulation costs about 0.75 s per scored sample single-threaded (docs/hardware.md), so 200 scored samples
    are a few minutes per audit on the noisy device. Raise ``n_train``/``n_holdout``/``qubits`` for tighter
    intervals at proportionally more simulation time."""

    backends: list[str] = field(default_factory=list)
    shots: int = 1024
    dataset: str = "digits"
    n_train: int = 60
    n_holdout: int = 140
    model: dict[str, Any] = field(default_factory=lambda: {"qubits": 6, "layers": 8, "epochs": 200, "lr": 0.05,
                                                            "batch_size": 8})
    attacks: list[str] = field(default_factory=lambda: ["gray-box", "loss"])
    method: str = "ga"
    #: Refuse a device audit whose estimated QPU time exceeds this (``--max-qpu-seconds`` of each audit).
    max_qpu_seconds: int | None = None

    @classmethod
    def quick(cls, backends: list[str]) -> DeviceSettings:
        """Tiny settings for ``--quick`` (a wiring check, seconds on a noiseless device)."""
        return cls(backends=list(backends), n_train=40, n_holdout=40,
                   model={"qubits": 4, "layers": 2, "epochs": 10, "lr": 0.05, "batch_size": 8}, attacks=["gray-box"])

    def with_options(self, text: str | None) -> DeviceSettings:
        """These settings changed by ``--device-options KEY=N,...`` (:data:`OPTIONS`: key -> (low, high))."""
        from qaudit.sdk import QauditError, check_option

        out = dataclasses.replace(self, model=dict(self.model), backends=list(self.backends))
        for part in (p.strip() for p in (text or "").split(",")):
            if not part:
                continue
            key, _, value = (s.strip() for s in part.partition("="))
            if key not in OPTIONS or not value:
                raise QauditError(f"--device-options: expected KEY=N with KEY one of {', '.join(OPTIONS)}, got "
                                  f"{part!r}")
            try:
                number = int(value)
            except ValueError:
                raise QauditError(f"--device-options: {key} must be an integer, got {value!r}") from None
            low, high = OPTIONS[key]
            check_option(f"--device-options {key}", number, "int", low, high)
            if key in ("members", "holdout"):
                setattr(out, "n_train" if key == "members" else "n_holdout", number)
            elif key in ("shots", "max_qpu_seconds"):
                setattr(out, key, number)
            else:
                out.model[key] = number
        return out


#: ``--device-options`` keys and their ranges: scored samples, the model's size and training, the device's shots.
OPTIONS = {"members": (10, 5000), "holdout": (10, 5000), "qubits": (2, 16), "layers": (1, 20),
           "epochs": (1, 1000), "shots": (1, 100_000), "max_qpu_seconds": (1, 10_000_000)}


def check_backend(spec: str, shots: int) -> None:
    """Refuse an unusable ``--device`` before anything trains: unknown backend, one that cannot measure
    *shots*, or one whose packages are missing (the backend's own one-line error, e.g. the ``ibm`` extra)."""
    from qaudit.sdk import QauditError
    from qaudit.sdk.workflows import resolve_backend

    if not spec or spec.split(":", 1)[0] == EXACT:
        raise QauditError(f"--device needs a device backend such as ibm-fake:FakeSherbrooke, got {spec!r} (the "
                          "exact backend always runs beside it)")
    backend, _ = resolve_backend(spec, shots)
    limit = getattr(backend, "max_qubits", None)
    if callable(limit):
        limit()  # loads the device: a missing extra or an unknown device is an error now, not after training


def run_one(mf: Any, ds: Any, which: str, backend: str, shots: int | None, attacks: list[str], seed: int,
            forget_class: int, bootstrap: int, method: str, max_qpu_seconds: int | None = None) -> dict[str, Any]:
    """One cell of the experiment: the model *which* (``before`` or ``after`` unlearning *forget_class* with
    *method*, rerun here with the same seed so every job audits the same model) audited on *backend*, refused
    before anything is submitted when its plan exceeds *max_qpu_seconds*."""
    from qaudit.sdk import get_host
    from qaudit.sdk import workflows as wf

    if which == "after":
        fs = wf.resolve_forget(mf, ds, [forget_class])
        request = wf.build_request(get_host().get("unlearning", method), ds, fs, seed, {},
                                   mf.model.n_classes or ds.n_classes, 1.0)
        mf = dataclasses.replace(mf, model=wf.run_method(method, mf.model, request).model)
    shots = None if backend == EXACT else shots
    be, shots = wf.resolve_backend(backend, shots, mf.model)
    settings = wf.AuditSettings(attacks=list(attacks), backend=backend, shots=shots, seed=seed,
                                forget_class=forget_class, n_bootstrap=bootstrap,
                                max_qpu_seconds=None if backend == EXACT else max_qpu_seconds)
    report = wf.run_audit(mf, ds, wf.ground_truth(mf, len(ds)), settings, backend=be, location=str(mf.path))
    return entry(report.to_json(), which, backend, shots)


def entry(doc: dict[str, Any], which: str, backend: str, shots: int | None) -> dict[str, Any]:
    """What the report keeps of one leak report."""
    s = doc["summary"]
    best = s["strongest_attack"]
    attacks = doc["attacks"]
    gray = attacks.get("gray-box", {}).get("details", {})
    execution = doc.get("execution") or {}
    verdict = doc.get("verdict")
    return {"model": which, "backend": backend, "shots": shots, "leaks": bool(s["leaks"]), "strongest": best,
            "metrics": {k: attacks[best]["metrics"][k] for k in ("auc", "auc_low", "auc_high", "p_value")},
            "aucs": {a: v["metrics"]["auc"] for a, v in attacks.items()},
            "member_rate": gray.get("member_rate"), "non_member_rate": gray.get("non_member_rate"),
            "member_accuracy": s["member_accuracy"], "non_member_accuracy": s["non_member_accuracy"],
            "members": s["evaluated_members"], "non_members": s["evaluated_non_members"],
            "detectable_auc": (s.get("detectable_auc") or {}).get("auc"),
            "submitted": execution.get("submitted"),
            "verdict": verdict.get("line") if isinstance(verdict, dict) else verdict}


def cells(backends: list[str]) -> list[tuple[str, str]]:
    """(model, backend) of every audit: before and after unlearning, exact first."""
    return [(which, b) for which in WHICH for b in [EXACT, *backends]]


def _pct(v: Any) -> str:
    return "-" if v is None else f"{100.0 * float(v):.1f}%"


def row(e: dict[str, Any], forget_class: int) -> list[Any]:
    """A table row of one cell."""
    m = e["metrics"]
    sub = e.get("submitted") or {}
    qpu = sub.get("qpu_seconds")
    return [f"{e['model']} unlearning" if e["model"] == "before" else f"after unlearning digit {forget_class}",
            e["backend"] + ("" if e["shots"] is None else f", {e['shots']} shots"),
            f"{m['auc']:.3f} [{m['auc_low']:.3f}, {m['auc_high']:.3f}] ({e['strongest']})",
            "LEAKS" if e["leaks"] else "no significant leakage", _pct(e["member_rate"]), _pct(e["non_member_rate"]),
            f"{_pct(e['member_accuracy'])} / {_pct(e['non_member_accuracy'])}",
            f"{sub.get('jobs', '-')} / {sub.get('units', '-')}", "-" if qpu is None else f"{qpu:.0f}"]


COLUMNS = ["model", "backend", "strongest attack AUC [95% CI]", "verdict (Holm, α 0.05)",
           "MIA accuracy: forget-class members called member (gray-box)", "forget-class non-members called member",
           "accuracy members / non-members", "jobs / units", "QPU s (est.)"]


def survives(entries: list[dict[str, Any]], backend: str) -> str:
    """One sentence: does the exact audit's leakage survive on *backend* (its shot and device noise), before
    unlearning?"""
    by = {(e["model"], e["backend"]): e for e in entries}
    ex, dev = by.get(("before", EXACT)), by.get(("before", backend))
    if ex is None or dev is None:
        return f"{backend}: not run"
    a, b = ex["metrics"], dev["metrics"]
    pair = (f"AUC {a['auc']:.3f} [{a['auc_low']:.3f}, {a['auc_high']:.3f}] exact vs {b['auc']:.3f} "
            f"[{b['auc_low']:.3f}, {b['auc_high']:.3f}] on {backend}")
    if not ex["leaks"]:
        return (f"the model shows no significant leakage even on the exact backend ({pair}), so this run cannot say "
                f"whether leakage survives on {backend}: train a model that leaks (fewer members, more epochs)")
    if dev["leaks"]:
        return f"leakage survives on {backend}: the audit there still finds it ({pair}; Holm, α 0.05)"
    power = dev.get("detectable_auc")
    extra = f"; this audit detects AUC ≥ {power:.3f} with 80% power" if power else ""
    return (f"leakage is not detected on {backend} at this size: the exact audit finds it, the audit there does "
            f"not ({pair}{extra}); more scored samples could still detect a weaker leak")
