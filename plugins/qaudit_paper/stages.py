"""The reproduction's stages as independent, cacheable jobs (issue 19, item 3).

A stage (a leak audit, the unlearning comparison of one model, the shot study, the noise stage...) is
described by a :class:`Stage`: its name, its inputs (reduced to a content key by :func:`cache.stage_key`),
its jobs -- module-level functions with picklable arguments, so any executor of :mod:`qaudit.run.parallel`
runs them -- and the step that turns the jobs' results into the stage's JSON value. :func:`run_stages`
takes every stage whose value is not in the cache, runs all their jobs as one batch (so independent
stages run concurrently, the longest first) and stores the values.

Jobs see the dataset and models through :class:`DatasetRef` / :class:`ModelRef`: small, picklable
descriptions resolved in the worker (loaded once per process) whose content digests are the cache key's
"dataset identity" and "model file content". Every job runs with single-threaded BLAS
(:class:`qaudit.sdk.SingleThreaded`), in a worker or in this process, and every value passes through
:func:`cache.canonical`, so a serial run, a concurrent run and a cached rerun give the same report.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from qaudit.sdk import SILENT, Progress
from qaudit_paper import cache

_DATASETS: dict[str, Any] = {}
_MODELS: dict[str, Any] = {}


@dataclass(frozen=True)
class DatasetRef:
    """A dataset by name and loader options, pinned by its content fingerprint (checked on load)."""

    name: str
    options: dict[str, Any]
    sha256: str

    @classmethod
    def of(cls, ds: Any, options: dict[str, Any]) -> DatasetRef:
        """The reference of the loaded dataset *ds* (loaded with *options*)."""
        return cls(ds.name, dict(options), ds.fingerprint()["sha256"])

    def identity(self) -> list[str]:
        """What the cache key records: name and content (not the folder it was read from)."""
        return ["dataset", self.name, self.sha256]

    def resolve(self) -> Any:
        """The dataset, loaded once per process; a different content on this machine is an error."""
        if self.sha256 not in _DATASETS:
            from qaudit.sdk import QauditError, load_dataset

            ds = load_dataset(self.name, self.options)
            if ds.fingerprint()["sha256"] != self.sha256:
                raise QauditError(f"dataset {self.name!r} differs on this worker (fingerprint mismatch)")
            _DATASETS.clear()
            _DATASETS[self.sha256] = ds
        return _DATASETS[self.sha256]


class ModelRef:
    """A model file as a picklable bundle (:func:`qaudit.sdk.portable`) and its content digest: kind,
    model document, split and training record. ``path`` is a stable label (the file name), not a location."""

    def __init__(self, mf: Any, label: str):
        from qaudit.sdk import content_key, portable

        light = dataclasses.replace(mf, path=label, provenance={})
        self.bundle = portable(light)
        data = mf.data
        self.digest = content_key("model", mf.kind, self.bundle[2], data.members, data.holdout, data.seed,
                                  data.excluded, mf.training)

    def identity(self) -> list[str]:
        """What the cache key records."""
        return ["model", self.digest]

    def resolve(self) -> Any:
        """The :class:`qaudit.sdk.ModelFile`, rebuilt once per process."""
        if self.digest not in _MODELS:
            from qaudit.sdk import from_portable

            if len(_MODELS) > 8:
                _MODELS.clear()
            _MODELS[self.digest] = from_portable(self.bundle)
        return _MODELS[self.digest]


def call(fn: Callable[..., Any], *args: Any) -> tuple[Any, float]:
    """Job body: ``fn(*args)`` with every reference resolved; returns (value, seconds)."""
    start = time.perf_counter()
    value = fn(*[a.resolve() if isinstance(a, (DatasetRef, ModelRef)) else a for a in args])
    return value, time.perf_counter() - start


def identity(value: Any) -> Any:
    """*value* for a cache key: references become their digests, arrays their content digest."""
    import hashlib

    import numpy as np

    if isinstance(value, (DatasetRef, ModelRef)):
        return value.identity()
    if isinstance(value, np.ndarray):
        array = np.ascontiguousarray(value)
        return ["array", array.dtype.str, list(array.shape), hashlib.sha256(array.tobytes()).hexdigest()]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return identity({f.name: getattr(value, f.name) for f in dataclasses.fields(value)})
    if isinstance(value, dict):
        return {str(k): identity(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [identity(v) for v in value]
    return value


def _first(values: list[Any]) -> Any:
    return values[0]


@dataclass
class Stage:
    """One stage: ``jobs`` are ``(fn, *args)`` tuples (or a function making them, called only when the stage
    is not cached); ``finish`` maps their values (in order) to the stage's
    JSON value (default: the only job's value); ``inputs`` decide the cache key; ``cost`` orders the batch
    (expected seconds, longest first); ``required`` keys a cached value must have."""

    name: str
    inputs: Any
    jobs: list[tuple[Any, ...]] | Callable[[], list[tuple[Any, ...]]]
    finish: Callable[[list[Any]], dict[str, Any]] = _first
    cost: float = 1.0
    required: tuple[str, ...] = ()
    key: str = field(default="", init=False)


def run_stages(stages: list[Stage], executor: Any, store: cache.StageStore, progress: Progress = SILENT,
               description: str = "stages") -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """``(values, seconds)`` by stage name: cached values are read back, the others computed -- every job of
    every missing stage in one batch on *executor* -- then stored. ``seconds`` sums each stage's job times
    (``"cached"`` for a cached stage), in the order of *stages*."""
    from qaudit.sdk import Job, run_jobs

    values: dict[str, dict[str, Any]] = {}
    seconds: dict[str, Any] = {}
    todo = []
    for stage in stages:
        stage.key = cache.stage_key(stage.name, identity(stage.inputs))
        hit = store.get(stage.key, stage.required)
        if hit is not None:
            values[stage.name], seconds[stage.name] = hit, "cached"
        else:
            seconds[stage.name] = 0.0
            if callable(stage.jobs):
                stage.jobs = stage.jobs()
            todo.append(stage)
    batch = [(stage, i, job) for stage in todo for i, job in enumerate(stage.jobs)]
    batch.sort(key=lambda item: -item[0].cost / max(1, len(item[0].jobs)))  # stable: longest jobs first
    jobs = [Job(tuple(job), origin=f"reproduce stage {stage.name}") for stage, _, job in batch]
    done = run_jobs(call, jobs, executor, progress, f"{description}: {len(jobs)} jobs") if jobs else []
    pieces: dict[str, list[Any]] = {stage.name: [None] * len(stage.jobs) for stage in todo}
    for (stage, i, _), (value, took) in zip(batch, done):
        pieces[stage.name][i] = value
        seconds[stage.name] += took
    for stage in todo:
        value = cache.canonical(stage.finish(pieces[stage.name]))
        store.put(stage.key, value)
        values[stage.name] = value
        seconds[stage.name] = round(seconds[stage.name], 2)
    return values, seconds
