"""The shot study (``qaudit shots``): how audit and unlearning figures move with the shot budget.

One module per job: :mod:`.settings` (shot lists, seeds, the settings), :mod:`.estimated_model` (a model whose
gradients are estimated from shots), :mod:`.study` (the plan and the runs), :mod:`.report` (aggregation and the
report). The package re-exports the names of its modules lazily."""

from __future__ import annotations

from qaudit.sdk._lazy import exports as _exports

#: Where each name lives (loaded on first use, so importing the package stays light and free of cycles).
_HOME = {
    "DEFAULT_REPEATS": "qaudit.shots.settings",
    "DEFAULT_SHOTS": "qaudit.shots.settings",
    "EXACT_WORDS": "qaudit.shots.settings",
    "LEAK_METRICS": "qaudit.shots.settings",
    "SCHEMA": "qaudit.shots.settings",
    "SHIFT": "qaudit.shots.estimated_model",
    "ShotEstimatedModel": "qaudit.shots.estimated_model",
    "ShotSettings": "qaudit.shots.settings",
    "StudyPlan": "qaudit.shots.study",
    "UNLEARN_METRICS": "qaudit.shots.settings",
    "_VERIFIERS": "qaudit.shots.study",
    "_check_piece": "qaudit.shots.study",
    "_is_circuit_classifier": "qaudit.shots.estimated_model",
    "_leak_run": "qaudit.shots.study",
    "_pm": "qaudit.shots.report",
    "_probe_outputs": "qaudit.shots.study",
    "_unlearn_run": "qaudit.shots.study",
    "aggregate": "qaudit.shots.report",
    "build_report": "qaudit.shots.report",
    "check_parameter_shift": "qaudit.shots.estimated_model",
    "exact_verifier": "qaudit.shots.study",
    "gated_metrics": "qaudit.shots.report",
    "mean_std": "qaudit.shots.report",
    "parse_shots": "qaudit.shots.settings",
    "plan_study": "qaudit.shots.study",
    "repeat_seeds": "qaudit.shots.settings",
    "require_shot_gradients": "qaudit.shots.estimated_model",
    "run_study": "qaudit.shots.study",
    "shot_label": "qaudit.shots.settings",
    "study_run": "qaudit.shots.study",
    "trend": "qaudit.shots.report",
}
__all__ = [
    "DEFAULT_REPEATS",
    "DEFAULT_SHOTS",
    "EXACT_WORDS",
    "LEAK_METRICS",
    "SCHEMA",
    "SHIFT",
    "ShotEstimatedModel",
    "ShotSettings",
    "StudyPlan",
    "UNLEARN_METRICS",
    "aggregate",
    "build_report",
    "check_parameter_shift",
    "exact_verifier",
    "gated_metrics",
    "mean_std",
    "parse_shots",
    "plan_study",
    "repeat_seeds",
    "require_shot_gradients",
    "run_study",
    "shot_label",
    "study_run",
    "trend",
]

__getattr__, __dir__ = _exports(__name__, _HOME)
