"""The bodies of the reproduction's jobs (module-level, so any executor can pickle them by name).

Each takes the model file and dataset (resolved from :class:`qaudit_paper.stages.ModelRef` /
``DatasetRef`` in the worker) and plain settings, and returns plain JSON-able data: what the report needs.
Nothing here reads global state or the clock into a result except the recorded training/unlearning seconds.
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: Attack options of the reproduction's leak audits: the gray-box attack also runs the authors' HQNN/MIA.py protocol.
PAPER_PROTOCOL = {"gray-box.protocol": "paper"}


def _acc(model: Any, X: np.ndarray, y: np.ndarray, backend: Any = None) -> float:
    if len(y) == 0:
        return float("nan")
    return float(np.mean(np.argmax(model.predict_proba(X, backend=backend), axis=1) == y))


def train(ds: Any, kind: str, n_train: int, n_holdout: int, seed: int, options: dict[str, Any],
          preset: str | None, use_cache: bool) -> Any:
    """Train one model the caller did not find in the model cache (and cache it); returns its
    :func:`qaudit.sdk.portable` bundle."""
    from qaudit.sdk import SILENT, portable
    from qaudit_paper.cache import train_cached

    mf, _ = train_cached(kind, ds, n_train, n_holdout, seed, options, SILENT, preset=preset, use_cache=use_cache,
                         lookup=False)
    return portable(mf)


def model_entry(mf: Any, ds: Any, forget_class: int) -> dict[str, Any]:
    """The models table's numbers: options, training seconds, accuracies on the forget class / the rest."""
    m, h = mf.data.members, mf.data.holdout
    ym = ds.y[m]
    fc = forget_class
    return {"options": mf.model.get_params(), "train_seconds": mf.training.get("seconds"),
            "forget_class_accuracy": _acc(mf.model, ds.X[m][ym == fc], ym[ym == fc]),
            "retained_accuracy": _acc(mf.model, ds.X[m][ym != fc], ym[ym != fc]),
            "member_accuracy": _acc(mf.model, ds.X[m], ym), "holdout_accuracy": _acc(mf.model, ds.X[h], ds.y[h]),
            "n_forget_members": int(np.sum(ym == fc)), "n_retained_members": int(np.sum(ym != fc))}


def leak(mf: Any, ds: Any, attacks: list[str], seed: int, forget_class: int, bootstrap: int) -> dict[str, Any]:
    """The leak audit before unlearning (exact outputs); with the gray-box attack also its paper-protocol
    figure (``origin``)."""
    from qaudit.sdk.workflows import AuditSettings, ground_truth, resolve_backend, run_audit
    from qaudit_paper import origins

    graybox = "gray-box" in attacks
    be, _ = resolve_backend("exact", None, mf.model)
    audit = run_audit(mf, ds, ground_truth(mf, len(ds)),
                      AuditSettings(attacks=list(attacks), backend="exact", seed=seed, forget_class=forget_class,
                                    n_bootstrap=bootstrap, attack_options=PAPER_PROTOCOL if graybox else {}),
                      backend=be, location=str(mf.path))
    attacks_out = audit.payload["attacks"]
    return {"leak": {a: {"metrics": v["metrics"], "member_rate": v["details"].get("member_rate"),
                         "non_member_rate": v["details"].get("non_member_rate")} for a, v in attacks_out.items()},
            "origin": origins.leak_entry(attacks_out["gray-box"]) if graybox else None}


def unlearn(mf: Any, ds: Any, methods: list[str], seed: int, forget_class: int) -> dict[str, Any]:
    """Every method against the retrain oracle, verified alike; the comparison tables as plain data."""
    from dataclasses import asdict

    from qaudit.sdk import workflows as wf

    fs = wf.resolve_forget(mf, ds, [forget_class])
    verifier = wf.exact_verifier(mf, ds, fs, seed)  # the shot study's runs in this process reuse it
    before = verifier.snapshot(mf.model)
    orc = wf.make_oracle(mf, ds, fs, verifier, mf.data.seed, None, cache=False)
    runs, per_method = [], {}
    for method in methods:
        r = wf.apply_method(method, mf, ds, fs, verifier, wf.Reference([orc]), seed, {}, 1.0)
        runs.append({**r.to_json(), "shots": None, "distance": r.distance, "before": wf.public_snapshot(before),
                     "oracle": wf.public_snapshot(orc.snapshot)})
        per_method[method] = {"after": wf.public_snapshot(r.after), "cost_ratio": r.cost_ratio,
                              "seconds": r.cost.seconds, "distance": r.distance}
    cmp = wf.compare_report(mf, fs, runs, {"methods": list(methods), "seeds": [seed]})
    return {"unlearning": {"before": wf.public_snapshot(before), "oracle": wf.public_snapshot(orc.snapshot),
                           "oracle_gradient_evaluations": orc.gradient_evaluations, "methods": per_method,
                           "forget_size": int(len(fs.forget_ids)), "retain_size": int(len(fs.retain_ids))},
            "tables": [asdict(t) for t in cmp.tables]}


def paper_code(mf: Any, ds: Any, seed: int, forget_class: int, bootstrap: int, shown: list[str]) -> dict[str, Any]:
    """The basic QNN trained with the authors' recipe: its preset options, accuracy and gray-box audit
    (held-out and paper protocol)."""
    from qaudit_paper import origins

    params = mf.model.get_params()
    return {"preset": {k: params[k] for k in shown}, "train_seconds": mf.training.get("seconds"),
            "leak": origins.paper_code_leak(mf, ds, seed, forget_class, bootstrap),
            "accuracy": origins.accuracy(mf, ds, forget_class)}


def noise(mf: Any, ds: Any, noise_model: str, seed: int, forget_class: int, bootstrap: int,
          method: str | None) -> dict[str, Any]:
    """The paper's noise model on the model: gray-box leakage and the verifier's snapshot, before and after
    *method* (rerun here with the unlearning stage's seed and options, so it is the same model)."""
    from qaudit.sdk import get_host
    from qaudit.sdk import workflows as wf
    from qaudit.sdk.workflows import AuditSettings, ground_truth, resolve_backend, run_audit

    name = f"noisy:{noise_model}"
    be, _ = resolve_backend(name, None, mf.model)
    audit = run_audit(mf, ds, ground_truth(mf, len(ds)),
                      AuditSettings(attacks=["gray-box"], backend=name, seed=seed, forget_class=forget_class,
                                    n_bootstrap=bootstrap), backend=be, location=str(mf.path))
    g = audit.payload["attacks"]["gray-box"]
    fs = wf.resolve_forget(mf, ds, [forget_class])
    verifier = wf.Verifier(mf, ds, fs, seed, be, None)
    out: dict[str, Any] = {"backend": name, "auc": g["metrics"]["auc"], "auc_low": g["metrics"]["auc_low"],
                           "auc_high": g["metrics"]["auc_high"], "member_rate": g["details"].get("member_rate"),
                           "before": wf.public_snapshot(verifier.snapshot(mf.model))}
    if method is not None:
        request = wf.build_request(get_host().get("unlearning", method), ds, fs, seed, {},
                                     mf.model.n_classes or ds.n_classes, 1.0)
        unlearned = wf.run_method(method, mf.model, request).model
        out["method"] = method
        out["after"] = wf.public_snapshot(verifier.snapshot(unlearned))
    return out
