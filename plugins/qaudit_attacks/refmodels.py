"""Reference (shadow) QNNs: training sets, parallel training, cached outputs.

Reference models are trained by the target's own engine: a fresh estimator
with the target's hyper-parameters (``type(model).from_options``, a seed spawned
from the audit's) fitted on a subset of the attacker's data. They train as jobs
on the audit's executor (``context.executor``: in-process, local worker processes
or a Dask cluster): the attacker's data pool is shared once, each job carries the
options, its row indices and its seed.

LiRA/RMIA ("online"): the pool is the scored target samples plus filler (the
attacker's known samples and population data). The K models come in complementary
pairs: a seeded random half of the scored targets trains one model of the pair, the
other half the other, so every target is IN for exactly K/2 models (Carlini et al.'s
balanced ``keep`` matrix) and every model holds half of the targets. Each model is
topped up with random filler to the target's training-set size; when the pool is too
small for that (a model trained on most of its dataset, e.g. digits at 60 % members),
each model takes every filler sample and is smaller than the target -- the size and
the difference are recorded in the report (``reference_train_size``,
``target_train_size``, ``reference_size_note``); below :data:`MIN_REFERENCE_SAMPLES`
the attack refuses. Which model trains on which target is the attacker's own random
choice: no target's membership label is read.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from qaudit.sdk import MAX_REFERENCE_MODELS, QauditError

MIN_REFERENCE = 2
#: Fewest training samples of a reference model (unless the target itself had fewer): smaller references
#: are stated in the report, never refused, above this.
MIN_REFERENCE_SAMPLES = 20


@dataclass
class ReferenceSet:
    """K trained reference models and which scored targets each one trained on."""

    models: list[Any]
    keep: np.ndarray  # (K, n_targets) bool: target i in model k's training set
    size: int
    seconds: float
    X_targets: np.ndarray
    y_targets: np.ndarray
    #: True when the models' outputs were recorded outside qaudit (``size``: recorded samples each trained on).
    recorded: bool = False
    #: The target's training-set size (``size`` is smaller when the pool cannot fill target-sized models).
    target_size: int | None = None


def training_sets(n_targets: int, n_filler: int, target_size: int, K: int,
                  rng: np.random.Generator) -> tuple[np.ndarray, list[np.ndarray], int]:
    """The online reference models' training sets: ``(keep, rows, size)``.

    ``keep`` (K, n_targets): model k trained on target i. Models 2j and 2j+1 split the targets into a
    random half and its complement, so every target is IN for exactly K/2 models. ``rows[k]``: model k's
    training rows in the pool ``targets ++ filler`` -- its targets, then random filler up to
    ``min(target_size, half the targets + all filler)``; ``size`` is the largest model's size.
    """
    keep = np.zeros((K, n_targets), bool)
    for j in range(K // 2):
        half = rng.permutation(n_targets)[: n_targets // 2]
        keep[2 * j, half] = True
        keep[2 * j + 1] = ~keep[2 * j]
    rows = []
    for k in range(K):
        idx_t = np.flatnonzero(keep[k])
        take = min(max(0, target_size - len(idx_t)), n_filler)
        idx_f = rng.choice(n_filler, size=take, replace=False)
        rows.append(np.concatenate([idx_t, n_targets + idx_f]))
    return keep, rows, max(len(r) for r in rows)


def _train_one(cls: Any, params: dict[str, Any], pool: tuple[np.ndarray, np.ndarray], rows: np.ndarray,
               n_classes: int | None, seed: int, checkpoint: Any = None) -> dict[str, Any]:
    """Job: fit one model on ``pool[rows]``, return its model-file sections (plain data); store them as a
    checkpoint (a path) as soon as they exist, so an interrupted audit keeps every finished model."""
    X, y = pool
    model = cls.from_options({**params, "seed": seed})
    model.fit(X[rows], y[rows], n_classes=n_classes)
    document = model.to_document()
    from qaudit.sdk import save_piece

    save_piece(checkpoint, document)
    return document


def train_models(model: Any, pool: tuple[np.ndarray, np.ndarray], rows: list[np.ndarray], seed: int,
                 context: Any, description: str = "reference models", same_init: bool = False) -> list[Any]:
    """Fit one copy of *model*'s architecture per index array in *rows* (training set ``pool[rows[k]]``) on
    the context's executor (``context.executor``, or ``context.n_jobs`` local workers).

    Model k's seed is the k-th of ``SeedSequence(seed).spawn(K)`` (the target's own seed with *same_init*), so
    the models do not depend on the executor or the completion order. The pool goes to the workers once
    (``executor.share``); each job carries the architecture's options, its row indices and its seed.
    """
    from qaudit.sdk import SILENT, Job, content_key, job_seeds, using_executor

    progress = context.progress or SILENT
    checkpoints = context.checkpoints
    cls = type(model)
    params = model.get_params()
    n_classes = context.n_classes or getattr(model, "n_classes", None)
    seeds = job_seeds(seed, len(rows))
    if same_init:
        seeds = [int(params.get("seed", 0))] * len(rows)
    X, y = pool
    keys = [content_key(cls.__module__, cls.__qualname__, params, seeds[i], n_classes, X[r], y[r])
            for i, r in enumerate(rows)]
    docs: list[Any] = [checkpoints.get(k, check=cls.from_document) if checkpoints is not None else None
                       for k in keys]
    todo = [i for i, doc in enumerate(docs) if doc is None]
    with progress.track(description, len(rows)) as task:
        progress.advance(task, len(rows) - len(todo))
        if todo:
            with using_executor(context.executor, context.n_jobs) as executor:
                shared = executor.share(pool)
                jobs = [Job((cls, params, shared, rows[i], n_classes, seeds[i],
                             checkpoints.path(keys[i]) if checkpoints else None), seed=seeds[i],
                            origin=f"{description}: model {i + 1}") for i in todo]
                for i, doc in zip(todo, executor.map(_train_one, jobs, on_done=lambda: progress.advance(task))):
                    docs[i] = doc
    return [cls.from_document(doc) for doc in docs]


def filler(context: Any) -> tuple[np.ndarray, np.ndarray]:
    """Attacker data other than the scored targets: known members/non-members and population."""
    parts_X = [context.X_members, context.X_non_members]
    parts_y = [context.y_members, context.y_non_members]
    if context.population_X is not None and len(context.population_X):
        parts_X.append(context.population_X)
        parts_y.append(context.population_y)
    return np.vstack(parts_X), np.concatenate(parts_y)


def reference_set(context: Any, attack: str, same_init: bool = False) -> ReferenceSet:
    """The audit's shared online reference models (trained once, cached in ``context.cache``).

    *same_init* trains them from the target's own initial weights (its ``seed``
    option): an auditor who controls training can do this, and it makes the
    models' circuits comparable bit string by bit string (``counts-lr``).
    """
    cache_key = "reference_set_same_init" if same_init else "reference_set"
    cached = context.cache.get(cache_key)
    if cached is not None:
        return cached
    if context.X_targets is None:
        raise QauditError(f"attack {attack} needs the scored samples in advance (AttackContext.X_targets)")
    if context.references is not None:  # recorded outside qaudit (black-box audit): nothing to train
        Xt = np.asarray(context.X_targets)
        keep = context.references.membership(Xt)
        refs = ReferenceSet(list(context.references.models), keep, int(keep.sum(axis=1).max(initial=0)), 0.0, Xt,
                            np.asarray(context.y_targets), recorded=True)
        context.cache[cache_key] = refs
        return refs
    K = int(context.n_reference)
    if K < MIN_REFERENCE or K % 2 or K > MAX_REFERENCE_MODELS:
        raise QauditError(f"attack {attack}: --reference-models must be an even number in "
                          f"{MIN_REFERENCE}..{MAX_REFERENCE_MODELS}, got {K}")
    Xt, yt = np.asarray(context.X_targets), np.asarray(context.y_targets)
    Xf, yf = filler(context)
    target_size = int(context.n_train or (len(context.X_members) * 2))
    keep, rows, size = training_sets(len(Xt), len(Xf), target_size, K, np.random.default_rng(context.seed + 7919))
    if size < min(target_size, MIN_REFERENCE_SAMPLES):
        raise QauditError(
            f"attack {attack}: the dataset is too small for reference models: each of the {K} models would train "
            f"on {size} samples (half of the {len(Xt)} scored samples plus {len(Xf)} others), fewer than "
            f"{MIN_REFERENCE_SAMPLES}; use a larger dataset")
    pool = (np.vstack([Xt, Xf]), np.concatenate([yt, yf]))
    start = time.perf_counter()
    models = train_models(context.model, pool, rows, context.seed + 104729, context,
                          f"{K} reference QNNs{' (same init)' if same_init else ''}", same_init=same_init)
    refs = ReferenceSet(models, keep, size, time.perf_counter() - start, Xt, yt, target_size=target_size)
    context.cache[cache_key] = refs
    return refs


def same_samples(a: np.ndarray, b: np.ndarray) -> bool:
    """True when *a* and *b* are the same batch of samples."""
    return a is b or (a.shape == b.shape and np.array_equal(a, b))


def reference_probs(context: Any, refs: ReferenceSet, X: np.ndarray, key: str) -> np.ndarray:
    """(K, n, n_classes) exact reference outputs on *X* (cached under *key*)."""
    cache_key = f"reference_probs:{key}"
    if cache_key not in context.cache:
        context.cache[cache_key] = np.stack([context.outputs(X, model=m, exact=True).probs for m in refs.models])
    return context.cache[cache_key]
