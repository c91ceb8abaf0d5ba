"""Conformance checks of a membership-inference attack (:class:`qaudit.sdk.protocols.Attack`)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from qaudit.sdk.testing.checks import Check, Step, Suite, check_class_attributes, fail, snapshot
from qaudit.sdk.testing.sample_model import TinyModel, train_tiny_model


@dataclass
class AttackCheck:
    """What :func:`check_attack` computed: scores and ground truth of the evaluation set."""

    scores: np.ndarray
    is_member: np.ndarray
    auc: float = field(default=float("nan"))


@dataclass
class _Fitted:
    attack: Any
    returned: Any
    context: Any
    X: np.ndarray
    y: np.ndarray
    is_member: np.ndarray
    tiny: TinyModel
    before: dict[str, np.ndarray]
    queried: list[np.ndarray] = field(default_factory=list)


def attack_suite(attack_cls: Any, options: Mapping[str, Any] | None = None, model: TinyModel | None = None,
                 *, seed: int = 0, deterministic: bool = True, **context_fields: Any) -> Suite:
    """The checks of :func:`attack_checks` with their shared steps; ``result()`` is an :class:`AttackCheck`."""
    from qaudit.leak.recorded import attack_signals

    suite = Suite(attack_cls)
    context_fields.setdefault("options", dict(options or {}))

    def fit() -> _Fitted:
        tiny = model or train_tiny_model()
        before = snapshot(tiny.model)
        context, X, y, is_member = tiny.attack_split(seed, **context_fields)
        queried = _record_target_queries(context)
        attack = attack_cls()
        return _Fitted(attack, attack.fit(context), context, X, y, is_member, tiny, before, queried)

    fitted = Step("fit", fit)
    scored = Step("score", lambda: _score(fitted.need()))
    suite.add("class_attributes", lambda: check_class_attributes(attack_cls))
    suite.add("fit_returns_self", lambda: _returns_self(fitted()))
    suite.add("one_finite_score_per_sample", scored)
    suite.add("target_model_untouched", lambda: _untouched(fitted.need(), scored.need()))
    suite.add("queries_only_declared_samples", lambda: _declared_queries(attack_cls, fitted.need(), scored.need()))
    if deterministic:
        suite.add("same_seed_same_scores", lambda: _repeat(attack_cls, fitted.need(), scored.need(), seed,
                                                           context_fields))
    try:
        signals: frozenset[str] | None = attack_signals(attack_cls)
    except TypeError:
        signals = None
    suite.add("signals_are_known", lambda: _known_signals(signals))
    if signals is not None and not signals & {"model", "counts"}:
        suite.add("runs_on_recorded_outputs",
                  lambda: _black_box(attack_cls, signals, model or train_tiny_model(), seed, dict(options or {})))
    suite.result = lambda: _result(fitted.need(), scored.need())
    return suite


def attack_checks(attack_cls: Any, options: Mapping[str, Any] | None = None, model: TinyModel | None = None,
                  **settings: Any) -> Iterator[Check]:
    """Named checks of a :class:`qaudit.sdk.protocols.Attack` class (arguments as :func:`check_attack`):
    ``class_attributes``, ``fit_returns_self``, ``one_finite_score_per_sample``, ``target_model_untouched``,
    ``queries_only_declared_samples``, ``same_seed_same_scores`` (when *deterministic*), ``signals_are_known``
    and, for an attack that does not need the model, ``runs_on_recorded_outputs``."""
    return attack_suite(attack_cls, options, model, **settings).named()


def check_attack(attack_cls: Any, options: Mapping[str, Any] | None = None, model: TinyModel | None = None,
                 *, seed: int = 0, deterministic: bool = True, **context_fields: Any) -> AttackCheck:
    """Check a :class:`qaudit.sdk.protocols.Attack` class on the tiny model (or *model*).

    ``attack_cls()`` (options arrive in ``context.options``, as ``qaudit leak
    --attack-option`` passes them) is fitted on an :class:`AttackContext` (half
    the members/holdout as attacker knowledge) and must return self; ``score`` must
    return one finite score per evaluation sample, leave the target model's
    weights untouched and (if *deterministic*) repeat exactly for the same seed.
    ``signals`` (optional) names known signals, and an attack that does not need the model runs in a
    black-box audit of the tiny model's recorded outputs (with 4 recorded reference models if it asks).
    Every check runs (:func:`attack_checks` names them); one ``AssertionError`` lists every failure.
    Returns the scores, ground truth and their ROC AUC (informative only).
    Extra keyword arguments set :class:`AttackContext` fields (``n_reference=2``).
    """
    return attack_suite(attack_cls, options, model, seed=seed, deterministic=deterministic,
                        **context_fields).run()


# --------------------------------------------------------------------------- checks
def _record_target_queries(context: Any) -> list[np.ndarray]:
    """Make *context* record the samples the target is queried on (its other queries pass through)."""
    from qaudit.run.query import TargetQueries

    inner = context.query or TargetQueries(context.model, context.backend, context.shots, context.seed)
    queried: list[np.ndarray] = []

    def recording(model: Any, X: np.ndarray, exact: bool = False) -> Any:
        if model is context.model and not exact:
            queried.append(np.asarray(X, dtype=np.float64))
        return inner(model, X, exact)

    context.query = recording
    return queried


def _declared_queries(attack_cls: Any, fitted: _Fitted, scores: np.ndarray) -> None:
    """Every target query is of scored or attacker-known samples, or of samples ``target_samples`` (optional)
    declares: a budgeted backend's plan holds only those (``--dry-run`` = what the run submits)."""
    context = fitted.context
    declared = getattr(attack_cls, "target_samples", None)
    extra = declared(context) if callable(declared) else None
    parts = [fitted.X, context.X_members, context.X_non_members, extra]
    allowed = {row.tobytes() for part in parts if part is not None for row in np.asarray(part, dtype=np.float64)}
    undeclared = sum(row.tobytes() not in allowed for part in fitted.queried for row in part)
    if undeclared:
        fail(f"queried the target on {undeclared} samples that are neither scored nor attacker-known nor "
             "declared by target_samples(context): a budgeted backend's plan (--dry-run) would not hold them")


def _returns_self(fitted: _Fitted) -> None:
    if fitted.returned is not fitted.attack:
        fail("fit(context) must return self")


def _score(fitted: _Fitted) -> np.ndarray:
    scores = np.asarray(fitted.attack.score(fitted.context, fitted.X, fitted.y), dtype=np.float64)
    if scores.shape != (len(fitted.X),):
        fail(f"score must return one score per sample: shape ({len(fitted.X)},), got {scores.shape}")
    if not np.all(np.isfinite(scores)):
        fail(f"{int(np.sum(~np.isfinite(scores)))} of {len(scores)} scores are not finite")
    return scores


def _untouched(fitted: _Fitted, scores: np.ndarray) -> None:
    after = snapshot(fitted.tiny.model)
    before = fitted.before
    if before.keys() != after.keys() or any(not np.array_equal(before[k], after[k]) for k in before):
        fail("the attack modified the target model's weights")


def _repeat(attack_cls: Any, fitted: _Fitted, scores: np.ndarray, seed: int, context_fields: dict[str, Any]) -> None:
    context, _, _, _ = fitted.tiny.attack_split(seed, **context_fields)
    again = np.asarray(attack_cls().fit(context).score(context, fitted.X, fitted.y), dtype=np.float64)
    if not np.allclose(again, scores, rtol=1e-9, atol=1e-12):
        fail("two runs with the same seed gave different scores (seed every random step)")


def _known_signals(signals: frozenset[str] | None) -> None:
    from qaudit.sdk.protocols import SIGNALS

    if signals is None:
        fail("signals must be a set of signal names (e.g. frozenset({'outputs'}))")
    unknown = sorted(signals - set(SIGNALS))
    if unknown:
        fail(f"signals names unknown signal(s) {', '.join(unknown)} (known: {', '.join(SIGNALS)})")


def _black_box(attack_cls: Any, signals: frozenset[str], tiny: TinyModel, seed: int, options: dict[str, Any]) -> None:
    """An attack that does not need the model runs in a black-box audit of the tiny model's recorded outputs
    (with 4 recorded reference models if it asks for reference outputs)."""
    from qaudit.leak.audit import AuditSettings, score_and_report
    from qaudit.leak.recorded import RecordedOutputs, subject
    from qaudit.run.query import predict_proba

    Xm, ym = tiny.members
    Xn, yn = tiny.holdout
    X, y = np.concatenate([Xm, Xn]), np.concatenate([ym, yn]).astype(np.int64)
    probs = predict_proba(tiny.model, X)
    recorded = RecordedOutputs(probs, y, np.r_[np.ones(len(ym), bool), np.zeros(len(yn), bool)], path="tiny")
    if "reference_outputs" in signals:
        rng = np.random.default_rng(seed)
        logits = np.log(np.clip(probs, 1e-12, None))[None] + rng.normal(0, 0.3, (4, *probs.shape))
        ref = np.exp(logits - logits.max(axis=-1, keepdims=True))
        recorded.ref_probs = ref / ref.sum(axis=-1, keepdims=True)
        recorded.ref_membership = np.argsort(rng.random((4, len(y))), axis=0) < 2
    settings = AuditSettings(attacks=[attack_cls.name], seed=seed, n_bootstrap=10, folds=2, attack_options=options)
    try:
        score_and_report(subject(recorded, settings), {attack_cls.name: attack_cls}, settings)
    except Exception as exc:  # noqa: BLE001 - any failure is the finding
        fail(f"declares signals {sorted(signals)} but fails on recorded outputs: {type(exc).__name__}: {exc}")


def _result(fitted: _Fitted, scores: np.ndarray) -> AttackCheck:
    from sklearn.metrics import roc_auc_score

    auc = float(roc_auc_score(fitted.is_member, scores)) if len(set(scores.tolist())) > 1 else 0.5
    return AttackCheck(scores, fitted.is_member, auc)
