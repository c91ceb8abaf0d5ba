"""``qaudit leak --outputs FILE.npz``: a black-box audit of outputs recorded outside qaudit.

For a model qaudit cannot run (a hardware run, a framework without an importer) the outputs file
records, per sample, the target's class probabilities (or logits), the label and the membership
(1 member, 0 non-member), optionally the shots behind each output, and optionally K reference
models' outputs with the (K, n) matrix of which samples each trained on -- the signals of ML
Privacy Meter and TF Privacy's ``AttackInputData``. docs/outputs-format.md is the format.

The audit is the same as an audit of a model: the same cross-fitting, metrics, Holm verdict and
report (:func:`qaudit.leak.audit.score_and_report`); only the attack context differs. Its ``outputs``
answer the recorded rows (the "features" of a sample are its row number), and
``AttackContext.references`` carries the recorded reference models. Which attacks run is decided
by the signals each declares (``Attack.signals``, :data:`qaudit.sdk.protocols.SIGNALS`): named attacks
that need a signal the file lacks are refused (one line, exit 2); with no ``--attack`` every
registered attack whose signals the file provides runs, and the others are listed in the report
with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from qaudit.leak.audit import AuditSettings, AuditSubject, attack_classes, check_attack_options, score_and_report
from qaudit.leak.crossfit import check_folds
from qaudit.report.results import Report, Table
from qaudit.sdk import limits
from qaudit.sdk.errors import QauditError
from qaudit.sdk.progress import SILENT, Progress
from qaudit.sdk.protocols import SIGNALS, AttackContext, Outputs, RecordedReferences

#: Largest allowed |sum of a row of probabilities - 1| (absolute; float32 probabilities of up to a few
#: hundred classes sum to 1 within about 1e-7 x classes).
PROB_TOLERANCE = 1e-6
#: The arrays an outputs file may hold (any other name is refused, so a typo is not silently ignored).
ARRAYS = ("probs", "logits", "labels", "membership", "shots", "ref_probs", "ref_logits", "ref_membership",
          "ref_exact")
#: Seed-sequence key of the shot simulation of exact reference outputs (``[seed, SHOT_STREAM]``).
SHOT_STREAM = 1
#: What an audit of recorded outputs can never provide, by signal (the one-line reason of a refusal).
UNAVAILABLE = {
    "model": "the target model itself (to train shadow/reference models of its architecture or query new "
             "samples), which recorded outputs cannot provide",
    "counts": "raw bit-string counts, which an outputs file does not record",
    "reference_outputs": "reference-model outputs: the file has no 'ref_probs'/'ref_logits' with "
                         "'ref_membership'",
}
#: The signal every attack is assumed to need when it declares none (it then runs only on models).
DEFAULT_SIGNALS = frozenset({"model"})


@dataclass
class RecordedOutputs:
    """A validated outputs file: ``probs`` (n, C) float64 rows summing to 1, ``labels`` (n,) int64,
    ``membership`` (n,) bool, ``shots`` (n,) int64 or None, ``ref_probs`` (K, n, C) float64 and
    ``ref_membership`` (K, n) bool or None; ``ref_exact`` True when the reference outputs are exact
    (noise-free) and are to be simulated at the target's per-sample shot counts (:func:`simulate_shots`)."""

    probs: np.ndarray
    labels: np.ndarray
    membership: np.ndarray
    shots: np.ndarray | None = None
    ref_probs: np.ndarray | None = None
    ref_membership: np.ndarray | None = None
    path: str = ""
    ref_exact: bool = False

    @property
    def n_classes(self) -> int:
        """Number of classes (columns of ``probs``)."""
        return int(self.probs.shape[1])

    @property
    def n_reference(self) -> int:
        """Number of recorded reference models (0 without any)."""
        return 0 if self.ref_probs is None else int(self.ref_probs.shape[0])

    def signals(self) -> frozenset[str]:
        """The signals (:data:`qaudit.sdk.protocols.SIGNALS`) this file provides."""
        return frozenset({"outputs"} | ({"reference_outputs"} if self.ref_probs is not None else set()))


# --------------------------------------------------------------------------- reading and validation
def _fail(path: Any, message: str) -> QauditError:
    return QauditError(f"{path}: {message}")


def _numeric(path: Any, name: str, a: np.ndarray, kinds: str, ndim: int, what: str) -> np.ndarray:
    if a.dtype.kind not in kinds:
        raise _fail(path, f"array {name!r} has dtype {a.dtype}; it must hold {what}")
    if a.ndim != ndim:
        raise _fail(path, f"array {name!r} has shape {a.shape}; expected {ndim} dimension(s)")
    if a.dtype.kind == "f" and not np.all(np.isfinite(a)):
        where = np.argwhere(~np.isfinite(a))[0]
        raise _fail(path, f"array {name!r} contains NaN or inf (at index {tuple(int(i) for i in where)})")
    return a


def _class_outputs(path: Any, arrays: dict[str, np.ndarray], prefix: str, ndim: int) -> np.ndarray | None:
    """Probabilities from ``{prefix}probs`` or ``{prefix}logits`` (softmax), checked; None if neither."""
    p_name, l_name = f"{prefix}probs", f"{prefix}logits"
    if p_name in arrays and l_name in arrays:
        raise _fail(path, f"give either {p_name!r} or {l_name!r}, not both")
    # In place on one float64 copy (none when the file holds native float64): the peak is the file's arrays
    # plus one float64 array, whatever the file's dtype (docs/outputs-format.md, "Limits").
    if l_name in arrays:
        z = _float64(_numeric(path, l_name, arrays.pop(l_name), "f", ndim, "floating-point logits"))
        z -= z.max(axis=-1, keepdims=True)
        np.exp(z, out=z)
        z /= z.sum(axis=-1, keepdims=True)
        return z
    if p_name not in arrays:
        return None
    p = _float64(_numeric(path, p_name, arrays.pop(p_name), "f", ndim, "floating-point probabilities"))
    if p.size and (p.min() < 0 or p.max() > 1):
        raise _fail(path, f"array {p_name!r} has values outside [0, 1]; pass logits as {l_name!r} instead")
    error = np.abs(p.sum(axis=-1) - 1.0)
    if error.size and error.max() > PROB_TOLERANCE:
        where = tuple(int(i) for i in np.unravel_index(int(np.argmax(error)), error.shape))
        raise _fail(path, f"probabilities in {p_name!r} must sum to 1 within {PROB_TOLERANCE:g} per sample; "
                          f"row {where} sums to {p.sum(axis=-1)[where]:.6g} (pass logits as {l_name!r} instead)")
    p /= p.sum(axis=-1, keepdims=True)
    return p


def _float64(a: np.ndarray) -> np.ndarray:
    """*a* as native float64: the array itself when it already is (the reader owns it), else one copy."""
    return a if a.dtype == np.float64 and a.dtype.isnative else a.astype(np.float64)


def _binary(path: Any, name: str, a: np.ndarray, ndim: int) -> np.ndarray:
    _numeric(path, name, a, "biu", ndim, "0/1 integers (1 member, 0 non-member)")
    if a.size and not np.isin(a, (0, 1)).all():
        raise _fail(path, f"array {name!r} must hold only 0 (non-member) and 1 (member)")
    return a.astype(bool)


def _lengths(path: Any, n: int, **arrays: Any) -> None:
    bad = {name: len(a) for name, a in arrays.items() if a is not None and len(a) != n}
    if bad:
        found = ", ".join(f"{name} {length}" for name, length in bad.items())
        raise _fail(path, f"mismatched lengths: probabilities have {n} samples, {found}")


def _check_references(path: Any, ref: np.ndarray | None, keep: np.ndarray | None, n: int, c: int) -> None:
    if (ref is None) != (keep is None):
        raise _fail(path, "reference outputs ('ref_probs' or 'ref_logits') and 'ref_membership' come together")
    if ref is None or keep is None:
        return
    if ref.shape[0] > limits.MAX_REFERENCE_MODELS or ref.shape[0] < 1:
        raise _fail(path, f"1..{limits.MAX_REFERENCE_MODELS} reference models allowed, found {ref.shape[0]}")
    if ref.shape[1:] != (n, c):
        raise _fail(path, f"reference outputs have shape {ref.shape}; expected (K, {n}, {c}) "
                          "(K models x the samples x the classes)")
    if keep.shape != ref.shape[:2]:
        raise _fail(path, f"'ref_membership' has shape {keep.shape}; expected {ref.shape[:2]} (K models x samples)")
    no_out = np.flatnonzero(keep.all(axis=0))
    if no_out.size:
        raise _fail(path, f"sample {no_out[0]} is a training sample of every reference model; every sample needs "
                          "at least one reference model that did not train on it")
    no_in = np.flatnonzero(~keep.any(axis=0))
    if keep.any() and no_in.size:
        raise _fail(path, f"sample {no_in[0]} is in no reference model's training set while others are; give "
                          "every sample at least one IN model (online references) or none at all (offline)")


def load_outputs(path: str | Path) -> RecordedOutputs:
    """Read and validate an outputs file (docs/outputs-format.md); one-line QauditError on bad input.

    Read with ``allow_pickle=False`` (object arrays are refused before allocation), at most
    :data:`qaudit.sdk.limits.MAX_OUTPUTS_BYTES`.
    """
    from qaudit.files.io import read_npz_limited

    arrays = read_npz_limited(path, limits.MAX_OUTPUTS_BYTES, "outputs file")
    unknown = sorted(set(arrays) - set(ARRAYS))
    if unknown:
        raise _fail(path, f"unknown array(s) {', '.join(map(repr, unknown))} (allowed: {', '.join(ARRAYS)})")
    missing = [name for name in ("labels", "membership") if name not in arrays]
    probs = _class_outputs(path, arrays, "", 2)
    if probs is None:
        missing.insert(0, "probs or logits")
    if missing:
        raise _fail(path, f"missing array(s): {', '.join(missing)} (see docs/outputs-format.md)")
    n, c = probs.shape
    if not 2 <= c <= limits.MAX_CLASSES:
        raise _fail(path, f"probabilities have {c} classes; 2..{limits.MAX_CLASSES} allowed")
    labels = _numeric(path, "labels", arrays["labels"], "iu", 1, "integer class labels")
    membership = _binary(path, "membership", arrays["membership"], 1)
    shots = arrays.get("shots")
    if shots is not None:
        _numeric(path, "shots", shots, "iu", 1, "integer shot counts")
    _lengths(path, n, labels=labels, membership=membership, shots=shots)
    if labels.size and (labels.min() < 0 or labels.max() >= c):
        raise _fail(path, f"labels must lie in 0..{c - 1} (the probabilities' classes)")
    if shots is not None and shots.size and (shots.min() < 1 or shots.max() > limits.MAX_SHOTS):
        raise _fail(path, f"shots must lie in 1..{limits.MAX_SHOTS}")
    for value, word in ((True, "members"), (False, "non-members")):
        count = int((membership == value).sum())
        if count < limits.MIN_SPLIT:
            raise _fail(path, f"{count} {word} (membership == {int(value)}); an audit needs at least "
                              f"{limits.MIN_SPLIT} members and {limits.MIN_SPLIT} non-members")
    ref = _class_outputs(path, arrays, "ref_", 3)
    keep = _binary(path, "ref_membership", arrays["ref_membership"], 2) if "ref_membership" in arrays else None
    _check_references(path, ref, keep, n, c)
    exact = _ref_exact(path, arrays.get("ref_exact"), shots is not None, ref is not None)
    return RecordedOutputs(probs, labels.astype(np.int64), membership,
                           None if shots is None else shots.astype(np.int64), ref, keep, str(path), exact)


def _ref_exact(path: Any, flag: np.ndarray | None, has_shots: bool, has_refs: bool) -> bool:
    """The optional ``ref_exact`` flag: a 0-d 0/1 array, meaningful only with ``shots`` and reference outputs."""
    if flag is None:
        return False
    if flag.shape != () or flag.dtype.kind not in "biu" or int(flag) not in (0, 1):
        raise _fail(path, "array 'ref_exact' must be a single 0 or 1 (np.savez(..., ref_exact=1))")
    if int(flag) and not (has_shots and has_refs):
        raise _fail(path, "'ref_exact' = 1 needs 'shots' (the target's shots per sample) and reference outputs "
                          "('ref_probs' or 'ref_logits'): the exact reference outputs are simulated at those shots")
    return bool(int(flag))


def simulate_shots(probs: np.ndarray, shots: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Class frequencies of ``shots[i]`` multinomial draws from each row ``probs[..., i, :]``.

    *probs* (..., n, C) float64 exact class probabilities, *shots* (n,) int64; returns (..., n, C) float64,
    every row a multiple of ``1 / shots[i]`` summing to 1, unbiased for *probs* with variance
    ``p (1 - p) / shots[i]`` per class -- the outputs a model gives when each output is estimated from
    ``shots[i]`` measurements whose outcome is the class."""
    p = np.clip(np.asarray(probs, dtype=np.float64), 0.0, None)
    p = p / p.sum(axis=-1, keepdims=True)
    n = np.broadcast_to(np.asarray(shots, dtype=np.int64), p.shape[:-1])
    return rng.multinomial(n, p) / n[..., None]


# --------------------------------------------------------------------------- the audit
def attack_signals(cls: Any) -> frozenset[str]:
    """The signals an attack class declares (``Attack.signals``; default: it needs the model)."""
    return frozenset(getattr(cls, "signals", DEFAULT_SIGNALS))  # optional Attack member


def missing_reason(name: str, cls: Any, available: frozenset[str]) -> str | None:
    """Why attack *name* cannot run from signals *available* (one line), or None when it can."""
    missing = sorted(attack_signals(cls) - available)
    if not missing:
        return None
    why = "; ".join(UNAVAILABLE.get(m, SIGNALS.get(m, m)) for m in missing)
    return f"attack {name} needs {', '.join(missing)}: {why}"


def choose_attacks(named: list[str] | None, available: frozenset[str]) -> tuple[list[str], dict[str, str]]:
    """The attacks to run and those skipped with their reason.

    Named attacks that cannot run are refused (QauditError, one line); with none named every
    registered attack whose signals are *available* runs and the rest are skipped.
    """
    from qaudit.sdk.host import get_host

    host = get_host()
    if named:
        for name in named:
            reason = missing_reason(name, host.get("attack", name), available)
            if reason is not None:
                raise QauditError(f"{reason} (an outputs file provides: {', '.join(sorted(available))})")
        return list(named), {}
    run, skipped = [], {}
    for name in host.names("attack"):
        reason = missing_reason(name, host.get("attack", name), available)
        if reason is None:
            run.append(name)
        else:
            skipped[name] = reason
    return run, skipped


class RecordedTarget:
    """The audited model of a black-box audit: it has only outputs (an opaque handle for attacks)."""

    name = "recorded outputs"

    def __init__(self, n_classes: int):
        self.n_classes = n_classes


def _rows(X: np.ndarray) -> np.ndarray:
    """Row numbers of a batch of samples (a sample's feature is its row number in the file)."""
    return np.asarray(X, dtype=np.float64).reshape(len(X), -1)[:, 0].astype(np.int64)


class RecordedQueries:
    """``query(model, X, exact=False) -> Outputs`` answered from an outputs file: the target's recorded
    outputs and those of its recorded reference models, for the rows *X*; anything else is refused."""

    def __init__(self, target: RecordedTarget, recorded: RecordedOutputs, handles: list[Any]):
        self.target, self.recorded, self.handles = target, recorded, handles
        shots = recorded.shots
        self.shots = int(shots[0]) if shots is not None and np.all(shots == shots[0]) else None

    def __call__(self, model: Any, X: np.ndarray, exact: bool = False) -> Outputs:
        rows = _rows(X)
        if model is self.target:
            return Outputs(self.recorded.probs[rows], shots=self.shots)
        for k, handle in enumerate(self.handles):
            if model is handle and self.recorded.ref_probs is not None:
                return Outputs(self.recorded.ref_probs[k][rows])
        raise QauditError("an outputs file answers only for its target and its recorded reference models")


def subject(recorded: RecordedOutputs, settings: AuditSettings, progress: Progress = SILENT,
            location: str = "") -> AuditSubject:
    """The :class:`qaudit.leak.audit.AuditSubject` of an outputs file: rows as samples, recorded answers."""
    n = len(recorded.labels)
    X = np.arange(n, dtype=np.float64)[:, None]
    y = recorded.labels
    target = RecordedTarget(recorded.n_classes)
    handles = [RecordedTarget(recorded.n_classes) for _ in range(recorded.n_reference)]
    query = RecordedQueries(target, recorded, handles)
    references = None
    if recorded.ref_membership is not None:
        references = RecordedReferences(handles, recorded.ref_membership, _rows)
    members = np.flatnonzero(recorded.membership)
    context = AttackContext(
        model=target, backend=None, shots=query.shots, seed=settings.seed, X_members=X[:0], y_members=y[:0],
        X_non_members=X[:0], y_non_members=y[:0], progress=progress, n_train=len(members),
        n_classes=recorded.n_classes, n_reference=recorded.n_reference, n_jobs=1,
        options=dict(settings.attack_options), query=query, references=references)
    facts = {"model": location, "kind": target.name, "dataset": None, "population": 0,
             "ground_truth": "membership array of the outputs file", "backend": None, "shots": query.shots}
    return AuditSubject(X, y, members, np.flatnonzero(~recorded.membership), context, facts)


def run_outputs_audit(recorded: RecordedOutputs, settings: AuditSettings, named: list[str] | None = None,
                      progress: Progress = SILENT, location: str = "") -> Report:
    """Audit recorded outputs: choose the attacks by their signals, score every sample out of fold,
    compute the same metrics and Holm verdict as an audit of a model, and build the leak Report.

    *named* are the attacks the user asked for (None: every attack the file's signals allow);
    *settings* is not changed; the report records the attacks that ran.
    """
    chosen, skipped = choose_attacks(named, recorded.signals())
    if not chosen:
        raise QauditError("no installed attack can run from these outputs")
    # a copy: the caller's settings are not changed; nothing is executed (no backend, shots or resume)
    settings = replace(settings, attacks=chosen, n_reference=recorded.n_reference, backend="", shots=None,
                       resume=False, n_jobs=1 if settings.n_jobs is None else settings.n_jobs)
    settings.validate(reference_models=False)
    check_folds(settings.folds, int(recorded.membership.sum()), int((~recorded.membership).sum()))
    check_attack_options(settings.attack_options, settings.attacks)
    shot_noise = None
    if recorded.ref_exact and recorded.ref_probs is not None and recorded.shots is not None:
        rng = np.random.default_rng([settings.seed, SHOT_STREAM])
        recorded = replace(recorded, ref_probs=simulate_shots(recorded.ref_probs, recorded.shots, rng))
        shot_noise = {"reference_outputs": "simulated at the target's shots per sample (multinomial class "
                                           "frequencies)", "seed": [settings.seed, SHOT_STREAM]}
    report = score_and_report(subject(recorded, settings, progress, location), attack_classes(settings), settings,
                              progress, location or recorded.path)
    shots = recorded.shots
    report.summary["reference_models"] = recorded.n_reference
    report.summary["shots_per_sample"] = None if shots is None else {
        "min": int(shots.min()), "median": float(np.median(shots)), "max": int(shots.max())}
    if shot_noise is not None:
        report.summary["shot_noise"] = shot_noise
    report.settings["outputs"] = location or recorded.path
    if skipped:
        report.tables.append(Table("attacks not run", ["attack", "reason"], [[k, v] for k, v in skipped.items()],
                                   "every registered attack runs whose signals (Attack.signals) the outputs file "
                                   "provides; see docs/outputs-format.md"))
    report.payload["skipped_attacks"] = skipped
    return report
