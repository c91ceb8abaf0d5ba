"""The retrain reference: K oracles retrained from independent seeds without the forget set, cached per seed."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from qaudit.files.data import Dataset
from qaudit.files.model_file import ModelFile
from qaudit.sdk.errors import QauditError
from qaudit.sdk.host import get_host
from qaudit.sdk.limits import MAX_ORACLES
from qaudit.sdk.progress import SILENT, Progress
from qaudit.unlearn.request import DEFAULT_ORACLES, ForgetSet, build_request, retrain_cost, run_method
from qaudit.unlearn.verification import Verifier, public


@dataclass
class Oracle:
    """One retrain: its model, snapshot, gradient cost, where it came from and its seed."""

    model: Any
    snapshot: dict[str, Any]
    gradient_evaluations: int
    source: str
    seed: int | None = None


@dataclass
class Reference:
    """The retraining reference: K retrains from independent seeds (or the given ``--oracle`` files)."""

    oracles: list[Oracle]

    @property
    def snapshots(self) -> list[dict[str, Any]]:
        return [o.snapshot for o in self.oracles]

    @property
    def gradient_evaluations(self) -> int:
        """Mean gradient evaluations of one retrain."""
        return int(round(float(np.mean([o.gradient_evaluations for o in self.oracles]))))

    @property
    def source(self) -> str:
        kinds = [o.source.split(" ")[0] for o in self.oracles]
        parts = ", ".join(f"{kinds.count(k)} {k}" for k in dict.fromkeys(kinds))
        return f"{len(self.oracles)} retrain{'s' if len(self.oracles) != 1 else ''} ({parts})"

    def light(self) -> Reference:
        """The reference without its models (what jobs on other processes need)."""
        return Reference([dataclasses.replace(o, model=None) for o in self.oracles])

    def summary(self) -> dict[str, Any]:
        """Every figure of the retrains as {mean, sd, values} (JSON), and their distances to each other."""
        snaps = self.snapshots
        figures: dict[str, list[Any]] = {f"accuracy.{k}": [s["accuracy"].get(k) for s in snaps]
                                         for k in snaps[0]["accuracy"]}
        for key in ("forget_mia", "holdout_mia", "forget_mia_auc"):
            figures[key] = [s.get(key) for s in snaps]
        figures.update({f"distance.{k}": v for k, v in Verifier.oracle_spread(snaps).items()})
        out = {}
        for key, values in figures.items():
            vals = [float(v) for v in values if v is not None]
            out[key] = {"mean": float(np.mean(vals)) if vals else None,
                        "sd": float(np.std(vals, ddof=1)) if len(vals) > 1 else None, "values": vals}
        return out

    def to_json(self) -> dict[str, Any]:
        return {"source": self.source, "n": len(self.oracles), "seeds": [o.seed for o in self.oracles],
                "sources": [o.source for o in self.oracles], "gradient_evaluations": self.gradient_evaluations,
                "snapshots": [public(s) for s in self.snapshots], "summary": self.summary()}


def oracle_seeds(mf: ModelFile, n: int, avoid: set[int] | None = None) -> list[int]:
    """*n* retrain seeds derived from the model file's training seed (``SeedSequence``), none in *avoid*
    (the seed of a ``retrain`` run under test, so that run is independent of the reference)."""
    base = int(mf.data.seed) if mf.data is not None else int(mf.model.get_params().get("seed", 0) or 0)
    seeds: list[int] = []
    seq = np.random.SeedSequence([base, 0x4F52434C])
    while len(seeds) < n:
        for child in seq.spawn(n - len(seeds)):
            value = int(child.generate_state(1)[0])
            if value not in (avoid or set()) and value not in seeds:
                seeds.append(value)
    return seeds


def _train_oracle(bundle: Any, pool: Any, fs: ForgetSet, seed: int) -> tuple[Any, int, float]:
    """Job: one retrain (the ``oracle`` role's method) on the retained data with *seed*; (portable model file,
    gradient evaluations, seconds)."""
    from types import SimpleNamespace

    from qaudit.files.model_file import from_portable, portable

    mf = from_portable(bundle)
    X, y = pool
    name = get_host().role("unlearning", "oracle")
    request = build_request(get_host().get("unlearning", name), SimpleNamespace(X=X, y=y), fs, seed, {},
                            mf.model.n_classes or int(np.max(y)) + 1)
    outcome = run_method(name, mf.model, request)
    done = dataclasses.replace(mf, model=outcome.model)
    return portable(done), int(outcome.cost.gradient_evaluations), float(outcome.cost.seconds)


def _cached_oracle(mf: ModelFile, fs: ForgetSet, verifier: Verifier, seed: int) -> Oracle | None:
    """The cached retrain with *seed*, or None. An entry stored under another key, altered, or not a retrain
    of this model without the forget set is named in a warning and retrained
    (:func:`qaudit.files.checkpoints.read_model_entry`)."""
    from qaudit.files.checkpoints import cache_note, read_model_entry

    cached, key = oracle_cache_entry(mf, fs, seed)
    hit = read_model_entry(cached, key, ORACLE_SCHEMA, "oracle cache entry")
    if hit is None:
        return None
    cost = hit.training.get("gradient_evaluations", 0)
    if (hit.kind == mf.kind and hit.data is not None and np.array_equal(hit.data.members, fs.retain_ids)
            and isinstance(cost, int) and not isinstance(cost, bool) and cost > 0):
        return Oracle(hit.model, verifier.snapshot(hit.model), cost, f"cached {cached}", seed)
    cache_note(f"oracle cache entry {cached} not used and recomputed: it does not hold a retrain of this "
               "model without the forget set")
    return None


def _store_oracle(mf: ModelFile, fs: ForgetSet, seed: int, model: Any, cost: int, seconds: float) -> None:
    cached, key = oracle_cache_entry(mf, fs, seed)
    if cached is None or mf.data is None:
        return
    from qaudit.files.checkpoints import write_model_entry

    record = dataclasses.replace(mf.data, members=fs.retain_ids, excluded={"indices": fs.forget_ids.tolist()})
    training = {"seconds": round(seconds, 3), "gradient_evaluations": int(cost), "seed": int(seed)}
    write_model_entry(cached, key, ORACLE_SCHEMA, ModelFile(model, mf.kind, record, training, {"oracle_for": mf.path}),
                      "qaudit unlearn (retrain oracle)")  # the cache is an optimisation only


def given_oracle(oracle_mf: ModelFile, fs: ForgetSet, verifier: Verifier) -> Oracle:
    """An ``--oracle`` file as one retrain of the reference (rejected if it saw the forget set)."""
    if oracle_mf.data is not None and np.intersect1d(oracle_mf.data.members, fs.forget_ids).size:
        raise QauditError("--oracle was trained on samples of the forget set; train it with "
                          "`qaudit train --exclude-class ...` or `--exclude-indices ...`")
    cost = retrain_cost(oracle_mf, len(fs.retain_ids))
    seed = oracle_mf.model.get_params().get("seed")
    return Oracle(oracle_mf.model, verifier.snapshot(oracle_mf.model), cost, f"given {oracle_mf.path or ''}".strip(),
                  seed)


def make_reference(mf: ModelFile, dataset: Dataset, fs: ForgetSet, verifier: Verifier, n: int = DEFAULT_ORACLES,
                   avoid: set[int] | None = None, oracle_mfs: list[ModelFile] | None = None,
                   progress: Progress = SILENT, cache: bool = True, executor: Any = None,
                   seeds: list[int] | None = None) -> Reference:
    """*n* retrains on the retained data (same kind and options, seeds from :func:`oracle_seeds`, or *seeds*),
    each cached by content (:func:`oracle_cache_path`); missing ones are trained as jobs on *executor*.
    Given *oracle_mfs* (``--oracle`` files) are used instead."""
    from qaudit.sdk.limits import check_option

    if oracle_mfs:
        return Reference([given_oracle(o, fs, verifier) for o in oracle_mfs])
    check_option("--oracles", n, "int", 1, MAX_ORACLES)
    seeds = list(seeds) if seeds is not None else oracle_seeds(mf, n, avoid)
    found = {s: _cached_oracle(mf, fs, verifier, s) for s in seeds} if cache else {s: None for s in seeds}
    missing = [s for s in seeds if found[s] is None]
    if missing:
        from qaudit.files.model_file import from_portable, portable
        from qaudit.run.parallel import run, using
        from qaudit.sdk.protocols import Job

        with using(executor) as ex:
            pool = ex.share((dataset.X, dataset.y))
            jobs = [Job((portable(mf), pool, fs, s), seed=s, origin=f"retrain oracle (seed {s})") for s in missing]
            trained = run(_train_oracle, jobs, ex, progress, f"{len(jobs)} retrain oracle(s)")
        for s, (bundle, cost, seconds) in zip(missing, trained):
            model = from_portable(bundle).model
            if cache:
                _store_oracle(mf, fs, s, model, cost, seconds)
            found[s] = Oracle(model, verifier.snapshot(model), cost, "retrained", s)
    return Reference([found[s] for s in seeds])


def make_oracle(mf: ModelFile, dataset: Dataset, fs: ForgetSet, verifier: Verifier, seed: int,
                oracle_mf: ModelFile | None = None, progress: Progress = SILENT, cache: bool = True,
                executor: Any = None) -> Oracle:
    """One retrain with *seed* (or *oracle_mf*), cached like :func:`make_reference`'s."""
    if oracle_mf is not None:
        return given_oracle(oracle_mf, fs, verifier)
    return make_reference(mf, dataset, fs, verifier, 1, oracle_mfs=None, progress=progress, cache=cache,
                          executor=executor, seeds=[int(seed)]).oracles[0]


#: The envelope schema of an oracle cache entry (:func:`qaudit.files.checkpoints.envelope`).
ORACLE_SCHEMA = "qaudit.oracle/3"


def oracle_cache_path(mf: ModelFile, fs: ForgetSet, seed: int = 0) -> Any:
    """Where the retrain with *seed* for (this model file's bytes, this forget set) is cached, or None."""
    return oracle_cache_entry(mf, fs, seed)[0]


def oracle_cache_entry(mf: ModelFile, fs: ForgetSet, seed: int = 0) -> tuple[Any, str]:
    """(where the retrain with *seed* for this model file's bytes and this forget set is cached, or None; its
    key: the SHA-256 of all three). Folder: ``$QAUDIT_CACHE_DIR/oracles`` (default ``~/.cache/qaudit/oracles``);
    ``QAUDIT_CACHE_DIR=off`` disables the cache. Entries carry the key and the hash of their content, checked
    on load (:func:`qaudit.files.checkpoints.read_model_entry`)."""
    import hashlib

    from qaudit.files.checkpoints import cache_root
    from qaudit.files.io import read_bytes_limited
    from qaudit.files.model_file import MAX_FILE_BYTES

    root = cache_root()
    if root is None or not mf.path:
        return None, ""
    try:
        content = read_bytes_limited(mf.path, MAX_FILE_BYTES, "model file")
    except (OSError, QauditError):
        return None, ""
    key = hashlib.sha256(content + b"\0" + fs.forget_ids.astype("<i8").tobytes() + b"\0"
                         + str(int(seed)).encode()).hexdigest()
    return root / "oracles" / f"{key[:24]}.json", key
