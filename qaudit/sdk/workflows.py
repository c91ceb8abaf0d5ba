"""The workflows sub-API: the steps of qaudit's commands, for plugins that orchestrate whole experiments.

``qaudit demo`` and ``qaudit reproduce`` (the ``qaudit_paper`` plugin) compose these the way a third-party
study would: train and evaluate a model, run a membership audit, a shot-budget study, and the unlearning
steps (forget set, oracle retrain, method, verifier), then write reports with the console helpers.
Covered by :data:`qaudit.sdk.API_VERSION` like the rest of :mod:`qaudit.sdk`. For one call per command
(what ``qaudit train``/``leak``/``unlearn``/``shots`` run) use :mod:`qaudit.api` instead.

Names are re-exported lazily (PEP 562): importing this module imports nothing heavy.
"""

from qaudit.sdk._lazy import exports as _exports

_NAMES: dict[str, str] = {
    # train and evaluate
    "train_model": "qaudit.workflows",
    "evaluate_model": "qaudit.workflows",
    # the membership audit
    "AuditSettings": "qaudit.audit",
    "ground_truth": "qaudit.audit",
    "run_audit": "qaudit.audit",
    "resolve_backend": "qaudit.backends",
    # the shot-budget study
    "ShotSettings": "qaudit.shot_study",
    "parse_shots": "qaudit.shot_study",
    "shot_label": "qaudit.shot_study",
    "repeat_seeds": "qaudit.shot_study",
    "plan_study": "qaudit.shot_study",
    "study_run": "qaudit.shot_study",
    "run_study": "qaudit.shot_study",
    "exact_verifier": "qaudit.shot_study",
    # unlearning
    "ForgetSet": "qaudit.unlearning",
    "MethodResult": "qaudit.unlearning",
    "Reference": "qaudit.unlearning",
    "resolve_forget": "qaudit.unlearning",
    "build_request": "qaudit.unlearning",
    "run_method": "qaudit.unlearning",
    "make_oracle": "qaudit.unlearning",
    "apply_method": "qaudit.unlearning",
    "unlearned_model_file": "qaudit.unlearning",
    "Verifier": "qaudit.verification",
    "public_snapshot": "qaudit.verification:public",
    "compare_report": "qaudit.unlearn_reports",
    # the command line: consoles and the command as typed
    "out": "qaudit.commands.common",
    "err": "qaudit.commands.common",
    "command_line": "qaudit.commands.common",
    "emit": "qaudit.reporting",
}

__all__ = sorted(_NAMES)

__getattr__, __dir__ = _exports(__name__, _NAMES)
