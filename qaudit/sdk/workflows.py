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
    "train_model": "qaudit.train.workflows",
    "evaluate_model": "qaudit.train.workflows",
    # the membership audit
    "AuditSettings": "qaudit.leak.audit",
    "ground_truth": "qaudit.leak.audit",
    "run_audit": "qaudit.leak.audit",
    "resolve_backend": "qaudit.run.backend_choice",
    # the shot-budget study
    "ShotSettings": "qaudit.shots",
    "parse_shots": "qaudit.shots",
    "shot_label": "qaudit.shots",
    "repeat_seeds": "qaudit.shots",
    "plan_study": "qaudit.shots",
    "study_run": "qaudit.shots",
    "run_study": "qaudit.shots",
    "exact_verifier": "qaudit.shots",
    # unlearning
    "ForgetSet": "qaudit.unlearn",
    "MethodResult": "qaudit.unlearn",
    "Reference": "qaudit.unlearn",
    "resolve_forget": "qaudit.unlearn",
    "build_request": "qaudit.unlearn",
    "run_method": "qaudit.unlearn",
    "make_oracle": "qaudit.unlearn",
    "apply_method": "qaudit.unlearn",
    "unlearned_model_file": "qaudit.unlearn",
    "Verifier": "qaudit.unlearn.verification",
    "public_snapshot": "qaudit.unlearn.verification:public",
    "compare_report": "qaudit.unlearn.reports",
    # the command line: consoles and the command as typed
    "out": "qaudit.cli.commands.common",
    "err": "qaudit.cli.commands.common",
    "command_line": "qaudit.cli.commands.common",
    "emit": "qaudit.report.render",
}

__all__ = sorted(_NAMES)

__getattr__, __dir__ = _exports(__name__, _NAMES)
