"""Unlearning: resolve a forget request, run a method, build the K-retrain reference, verify and judge.

One module per job: :mod:`.request` (the forget set, the method's request, running a method), :mod:`.oracles` (the
retrain oracles and their cache), :mod:`.runs` (a method's run and the model file it writes), :mod:`.quality`
(forget quality), :mod:`.gates` (``--fail-above``); :mod:`.verification` and :mod:`.equivalence` verify and judge,
:mod:`.ulira` is the unlearning LiRA, :mod:`.reports` builds the reports. The package re-exports the names of its
modules lazily."""

from __future__ import annotations

from qaudit.sdk._lazy import exports as _exports

#: Where each name lives (loaded on first use, so importing the package stays light and free of cycles).
_HOME = {
    "COMPARE_SCHEMA": "qaudit.unlearn.request",
    "DEFAULT_ORACLES": "qaudit.unlearn.request",
    "FQ_BIN_WIDTH": "qaudit.unlearn.quality",
    "ForgetSet": "qaudit.unlearn.request",
    "Judgement": "qaudit.unlearn.verification",
    "METRICS": "qaudit.unlearn.request",
    "MethodResult": "qaudit.unlearn.runs",
    "ORACLE_SCHEMA": "qaudit.unlearn.oracles",
    "Oracle": "qaudit.unlearn.oracles",
    "Reference": "qaudit.unlearn.oracles",
    "SCHEMA": "qaudit.unlearn.request",
    "Verifier": "qaudit.unlearn.verification",
    "_cached_oracle": "qaudit.unlearn.oracles",
    "_compare_run": "qaudit.unlearn.runs",
    "_epsilon": "qaudit.unlearn.quality",
    "_forget_quality_pair": "qaudit.unlearn.quality",
    "_store_oracle": "qaudit.unlearn.oracles",
    "_train_oracle": "qaudit.unlearn.oracles",
    "apply_method": "qaudit.unlearn.runs",
    "attach_forget_quality": "qaudit.unlearn.quality",
    "build_request": "qaudit.unlearn.request",
    "check_forget_quality": "qaudit.unlearn.quality",
    "compare_runs": "qaudit.unlearn.runs",
    "forget_quality": "qaudit.unlearn.quality",
    "gate": "qaudit.unlearn.gates",
    "given_oracle": "qaudit.unlearn.oracles",
    "judge": "qaudit.unlearn.verification",
    "make_oracle": "qaudit.unlearn.oracles",
    "make_reference": "qaudit.unlearn.oracles",
    "oracle_cache_entry": "qaudit.unlearn.oracles",
    "oracle_cache_path": "qaudit.unlearn.oracles",
    "oracle_seeds": "qaudit.unlearn.oracles",
    "parse_gate": "qaudit.unlearn.gates",
    "preflight": "qaudit.unlearn.request",
    "public": "qaudit.unlearn.verification",
    "resolve_forget": "qaudit.unlearn.request",
    "retrain_cost": "qaudit.unlearn.request",
    "run_method": "qaudit.unlearn.request",
    "unlearned_model_file": "qaudit.unlearn.runs",
}
__all__ = [
    "COMPARE_SCHEMA",
    "DEFAULT_ORACLES",
    "FQ_BIN_WIDTH",
    "ForgetSet",
    "Judgement",
    "METRICS",
    "MethodResult",
    "ORACLE_SCHEMA",
    "Oracle",
    "Reference",
    "SCHEMA",
    "Verifier",
    "apply_method",
    "attach_forget_quality",
    "build_request",
    "check_forget_quality",
    "compare_runs",
    "forget_quality",
    "gate",
    "given_oracle",
    "judge",
    "make_oracle",
    "make_reference",
    "oracle_cache_entry",
    "oracle_cache_path",
    "oracle_seeds",
    "parse_gate",
    "preflight",
    "public",
    "resolve_forget",
    "retrain_cost",
    "run_method",
    "unlearned_model_file",
]

__getattr__, __dir__ = _exports(__name__, _HOME)
