"""SISA training (Sharded, Isolated, Sliced, Aggregated; Bourtoule et al., S&P 2021) for any model kind.

An ensemble of S constituent models of one registered kind. Every training
sample (identified by its dataset index) is assigned to a shard and a slice by
a seeded hash of its index alone, so removing a sample never moves another one.
Constituent s is trained incrementally: after slice r it has seen slices 1..r
of its shard for ``slice_epochs`` epochs and its weights are checkpointed.
Prediction is the mean of the constituents' probabilities.

Exact unlearning of a set of samples: for every shard holding one, restart from
the checkpoint before the first slice containing a forgotten sample (or from
scratch) and replay the remaining slices without it, with the same seeds. The
result equals SISA-training from scratch without those samples.
"""

from __future__ import annotations

import copy
from typing import Any, ClassVar

import numpy as np

from qaudit.sdk import (
    MAX_EPOCHS,
    MAX_SEED,
    MAX_SHARDS,
    MAX_SLICES,
    SILENT,
    Progress,
    QauditError,
    check_option,
    check_seed,
    decode_array,
    encode_array,
)

__all__ = ["MAX_SHARDS", "MAX_SLICES", "SisaEnsemble", "assign"]


def assign(ids: np.ndarray, shards: int, slices: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(shard, slice) of each dataset index: a seeded hash of the index alone."""
    shard = np.empty(len(ids), dtype=np.int64)
    slc = np.empty(len(ids), dtype=np.int64)
    for k, i in enumerate(np.asarray(ids, dtype=np.int64)):
        u = np.random.default_rng([int(seed) & 0xFFFFFFFF, int(i), 0x5157]).random(2)
        shard[k] = int(u[0] * shards)
        slc[k] = int(u[1] * slices)
    return shard, slc


def _forward(options: dict[str, Any], own: set[str]) -> dict[str, Any]:
    """*options* with every key that is not the ensemble's own moved into ``constituent_options`` (the common
    training flags reach the constituents); a key given both ways with different values is refused."""
    extra = {k: v for k, v in options.items() if k not in own}
    if not extra:
        return options
    inner = options.get("constituent_options", {})
    if not isinstance(inner, dict):
        raise QauditError("sisa: constituent_options must be an object")
    clash = sorted(k for k in extra if k in inner and inner[k] != extra[k])
    if clash:
        raise QauditError(f"sisa: {', '.join(clash)} given both as an option and in constituent_options with "
                          "different values")
    kept = {k: v for k, v in options.items() if k in own}
    return {**kept, "constituent_options": {**extra, **inner}}


class SisaEnsemble:
    """Model kind ``sisa``: an ensemble of constituent models trained with shards and slices.

    Options: ``constituent`` (a registered model kind), ``constituent_options``
    (its options), ``shards`` S, ``slices`` R, ``slice_epochs`` (epochs per slice;
    default ceil(constituent epochs / R)), ``seed``. Any other option is the
    constituents' (``qaudit train --model sisa --qubits 4 --epochs 5``): it is
    moved into ``constituent_options`` and checked by the constituent kind.
    """

    name: ClassVar[str] = "sisa"
    roles: ClassVar[frozenset[str]] = frozenset()
    description: ClassVar[str] = "SISA ensemble of any model kind (shards x slices, per-slice checkpoints)"
    DEFAULTS: ClassVar[dict[str, Any]] = {"constituent": "basic-qnn", "constituent_options": {}, "shards": 4,
                                          "slices": 2, "slice_epochs": None, "seed": 0}

    def __init__(self, **options: Any):
        self.options = {**copy.deepcopy(self.DEFAULTS), **_forward(copy.deepcopy(options), set(self.DEFAULTS))}
        self.members: list[Any] = []  # constituent models (None for an empty shard)
        self.checkpoints: list[list[dict[str, np.ndarray]]] = []  # [shard][slice] -> weights
        self.ids = np.zeros(0, dtype=np.int64)
        self.shard = np.zeros(0, dtype=np.int64)
        self.slice = np.zeros(0, dtype=np.int64)
        self.n_classes = 0
        self.n_features_in = 0
        self.history: list[float] = []
        self.gradient_evaluations = 0

    # -- options -----------------------------------------------------------------
    @classmethod
    def from_options(cls, options: dict[str, Any]) -> SisaEnsemble:
        """An untrained ensemble with these options, checked (:meth:`validate_options`)."""
        model = cls(**options)
        model.validate_options()
        return model

    def get_params(self) -> dict[str, Any]:
        """Ensemble options (JSON)."""
        return copy.deepcopy(self.options)

    def validate_options(self) -> None:
        """Check option types and ranges; the constituent kind must be registered and not ``sisa``."""
        o = self.options
        check_option("shards", o["shards"], "int", 1, MAX_SHARDS, owner="sisa")
        check_option("slices", o["slices"], "int", 1, MAX_SLICES, owner="sisa")
        check_seed(o["seed"], "seed", owner="sisa")
        check_option("slice_epochs", o["slice_epochs"], "int", 1, MAX_EPOCHS, allow_none=True, owner="sisa")
        if not isinstance(o["constituent"], str) or o["constituent"] == "sisa":
            raise QauditError("sisa: constituent must be a registered model kind other than sisa")
        if not isinstance(o["constituent_options"], dict):
            raise QauditError("sisa: constituent_options must be an object")
        template = self._template()
        if hasattr(template, "validate_options"):
            template.validate_options()

    def _constituent_cls(self) -> Any:
        from qaudit.sdk import get_host

        return get_host().get("model", self.options["constituent"])

    def _template(self, shard: int = 0) -> Any:
        opts = {**self.options["constituent_options"], "seed": self._seed(shard)}
        return self._constituent_cls().from_options(opts)

    def _seed(self, shard: int) -> int:
        # a valid seed (0..MAX_SEED) for every shard, whatever the ensemble's seed
        return (int(self.options["seed"]) * 1009 + 7919 * shard) % (MAX_SEED + 1)

    def _slice_epochs(self) -> int:
        if self.options["slice_epochs"] is not None:
            return int(self.options["slice_epochs"])
        epochs = int(self._template().get_params().get("epochs", 1))
        return max(1, -(-epochs // int(self.options["slices"])))

    def clone(self) -> SisaEnsemble:
        """An unfitted ensemble with the same options."""
        return type(self)(**self.get_params())

    def copy(self) -> SisaEnsemble:
        """A deep copy including constituents and checkpoints."""
        other = self.clone()
        other.members = [m.copy() if m is not None else None for m in self.members]
        other.checkpoints = [[{k: v.copy() for k, v in c.items()} for c in shard] for shard in self.checkpoints]
        other.ids, other.shard, other.slice = self.ids.copy(), self.shard.copy(), self.slice.copy()
        other.n_classes, other.n_features_in = self.n_classes, self.n_features_in
        other.history = list(self.history)
        other.gradient_evaluations = self.gradient_evaluations
        return other

    # -- training ----------------------------------------------------------------
    def fit(self, X: np.ndarray, y: np.ndarray, *, n_classes: int | None = None,
            sample_ids: np.ndarray | None = None, progress: Progress | None = None,
            executor: Any = None) -> SisaEnsemble:
        """Train all shards from scratch (as jobs on *executor*, None: in this process). *sample_ids*
        (required) are the samples' dataset indices; they decide the shard/slice assignment, so
        unlearning can find them again."""
        if sample_ids is None:
            raise QauditError("sisa: fit needs sample_ids (the dataset index of every training row); "
                              "they decide each sample's shard and slice")
        self.validate_options()
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y)
        ids = np.asarray(sample_ids, dtype=np.int64)
        if len(ids) != len(X) or len(np.unique(ids)) != len(ids):
            raise QauditError("sisa: sample ids must be unique, one per sample")
        self.n_classes = int(n_classes or int(y.max()) + 1)
        self.n_features_in = X.shape[1]
        self.ids = ids.copy()
        self.shard, self.slice = assign(ids, self.options["shards"], self.options["slices"], self.options["seed"])
        empty = [s for s in range(self.options["shards"]) if not np.any(self.shard == s)]
        if empty:
            raise QauditError(f"sisa: shard(s) {empty} received no samples; use fewer shards")
        S = self.options["shards"]
        self.members = [None] * S
        self.checkpoints = [[] for _ in range(S)]
        self.gradient_evaluations = 0
        self._train_shards({s: 0 for s in range(S)}, X, y, ids, progress or SILENT, executor)
        return self

    def _train_shards(self, todo: dict[int, int], X: np.ndarray, y: np.ndarray, ids: np.ndarray,
                      progress: Progress, executor: Any) -> int:
        """(Re)train every shard s in *todo* from slice ``todo[s]`` (0 = from scratch) as jobs on *executor*
        (None: in this process); return the gradient evaluations spent. Each job gets the ensemble's
        options, the shard's member document and checkpoints, its per-slice row indices and the pool
        (shared once); its seeds are the shard's own, so the result does not depend on the executor."""
        from qaudit.sdk import Job, using_executor

        row = {int(i): k for k, i in enumerate(ids)}
        R = self.options["slices"]
        jobs, shards = [], sorted(todo)
        with using_executor(executor) as ex, progress.track(f"SISA: {len(shards)} shard(s)", len(shards)) as task:
            pool = ex.share((X, y))
            for s in shards:
                first = todo[s]
                if first > 0 and not self.checkpoints[s][first - 1]:
                    first = 0  # nothing trained before that slice
                in_shard = self.shard == s
                slices = [np.array([row[int(i)] for i in self.ids[in_shard & (self.slice <= r)]], dtype=np.int64)
                          for r in range(R)]
                member = self.members[s].to_document() if first > 0 else None
                jobs.append(Job((self.get_params(), self.n_classes, s, first, member, self.checkpoints[s][:first],
                                 slices, pool), seed=self._seed(s), origin=f"sisa shard {s}"))
            results = ex.map(_shard_job, jobs, on_done=lambda: progress.advance(task))
        spent = 0
        ccls = self._constituent_cls()
        for s, (member, checkpoints, used) in zip(shards, results):
            self.members[s] = None if member is None else ccls.from_document(member)
            self.checkpoints[s] = checkpoints
            spent += used
        self.gradient_evaluations += spent
        return spent

    def unlearn_ids(self, forget_ids: np.ndarray, ids: np.ndarray, X: np.ndarray, y: np.ndarray,
                    progress: Progress = SILENT, executor: Any = None) -> dict[str, Any]:
        """Forget the samples with dataset indices *forget_ids*; (ids, X, y) must cover the
        remaining training samples. The affected shards retrain as jobs on *executor* (None: in this
        process). Returns which shards/slices were retrained and the cost."""
        forget = np.asarray(forget_ids, dtype=np.int64)
        unknown = np.setdiff1d(forget, self.ids)
        if unknown.size:
            raise QauditError(f"sisa: sample(s) {unknown[:5].tolist()} are not in this ensemble's training data")
        drop = np.isin(self.ids, forget)
        affected = sorted({int(s) for s in self.shard[drop]})
        first_slice = {s: int(self.slice[drop & (self.shard == s)].min()) for s in affected}
        keep = ~drop
        self.ids, self.shard, self.slice = self.ids[keep], self.shard[keep], self.slice[keep]
        missing = np.setdiff1d(self.ids, ids)
        if missing.size:
            raise QauditError(f"sisa: retained sample(s) {missing[:5].tolist()} were not provided")
        before = self.gradient_evaluations
        for s in affected:
            if not np.any(self.shard == s):
                raise QauditError(f"sisa: forgetting these samples empties shard {s}")
        self._train_shards(first_slice, X, y, ids, progress or SILENT, executor)
        return {"affected_shards": affected, "restart_slice": {str(s): r for s, r in first_slice.items()},
                "shards": self.options["shards"], "slices": self.options["slices"],
                "gradient_evaluations": self.gradient_evaluations - before}

    # -- inference ---------------------------------------------------------------
    def parts(self) -> list[Any]:
        """The constituent models, one per shard, in shard order."""
        if not self.members:
            raise QauditError("sisa: model is not trained")
        return list(self.members)

    def combine(self, probs: list[np.ndarray]) -> np.ndarray:
        """Mean of the constituents' class probabilities."""
        return np.mean(np.asarray(probs, dtype=np.float64), axis=0)

    def predict_proba(self, X: np.ndarray, backend: Any = None, shots: int | None = None,
                      seed: int | None = 0) -> np.ndarray:
        """Class probabilities through :func:`qaudit.run.query.query` (parts queried, then combined)."""
        from qaudit.sdk import predict_proba

        return predict_proba(self, X, backend, shots, seed)

    def predict(self, X: np.ndarray, **kwargs: Any) -> np.ndarray:
        """Most probable class."""
        return np.argmax(self.predict_proba(X, **kwargs), axis=1)

    @property
    def weights(self) -> dict[str, np.ndarray]:
        """All constituents' trained weights, ``"<shard>.<name>"`` -> array (the arrays themselves, not copies)."""
        return {f"{s}.{k}": v for s, m in enumerate(self.members) if m is not None for k, v in m.weights.items()}

    def circuit(self) -> Any:
        """The first constituent's circuit (all constituents share the architecture)."""
        return self.members[0].circuit()

    @property
    def n_qubits(self) -> int:
        """Qubits of one constituent."""
        return int(getattr(self.members[0], "n_qubits", 0)) if self.members else 0

    # -- model file ----------------------------------------------------------------
    def to_document(self) -> dict[str, Any]:
        """config (options, assignment), params (constituent documents + checkpoints)."""
        if not self.members:
            raise QauditError("sisa: model is not trained")
        constituents = []
        for s, m in enumerate(self.members):
            doc = m.to_document()
            doc["checkpoints"] = [{k: encode_array(v) for k, v in c.items()} for c in self.checkpoints[s]]
            constituents.append(doc)
        config = {**self.get_params(), "n_classes": self.n_classes, "n_features_in": self.n_features_in,
                  "assignment": {"ids": self.ids.tolist(), "shard": self.shard.tolist(),
                                 "slice": self.slice.tolist()},
                  "gradient_evaluations": int(self.gradient_evaluations)}
        return {"config": config, "params": {"constituents": constituents}, "preprocessing": []}

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> SisaEnsemble:
        """Rebuild and validate an ensemble from its model-file sections."""
        config = dict(document["config"])
        meta = {k: config.pop(k, None) for k in ("n_classes", "n_features_in", "assignment",
                                                  "gradient_evaluations")}
        model = cls(**config)
        model.validate_options()
        for key in ("n_classes", "n_features_in"):
            v = meta[key]
            if not isinstance(v, int) or isinstance(v, bool) or not 0 < v <= 1 << 24:
                raise QauditError(f"config.{key} must be a positive integer")
        model.n_classes, model.n_features_in = meta["n_classes"], meta["n_features_in"]
        model.gradient_evaluations = int(meta["gradient_evaluations"] or 0)
        a = meta["assignment"]
        if not isinstance(a, dict):
            raise QauditError("config.assignment must be an object")
        vals = [decode_array(a.get(k, []), f"config.assignment.{k}", (None,), integer=True)
                for k in ("ids", "shard", "slice")]
        if not len(vals[0]) == len(vals[1]) == len(vals[2]):
            raise QauditError("config.assignment: ids, shard and slice differ in length")
        model.ids, model.shard, model.slice = vals
        S, R = model.options["shards"], model.options["slices"]
        if len(np.unique(model.ids)) != len(model.ids) or np.any(model.shard < 0) or np.any(model.shard >= S) \
                or np.any(model.slice < 0) or np.any(model.slice >= R):
            raise QauditError("config.assignment: duplicate ids or shard/slice out of range")
        consts = document["params"].get("constituents")
        if not isinstance(consts, list) or len(consts) != S:
            raise QauditError(f"params.constituents must list {S} constituent models")
        ccls = model._constituent_cls()
        for s, doc in enumerate(consts):
            if not isinstance(doc, dict) or not isinstance(doc.get("checkpoints"), list) \
                    or len(doc["checkpoints"]) != R:
                raise QauditError(f"params.constituents[{s}] must hold config, params and {R} checkpoints")
            member = ccls.from_document(doc)
            shapes = {k: v.shape for k, v in member.weights.items()}
            cps = []
            for r, cp in enumerate(doc["checkpoints"]):
                if not isinstance(cp, dict) or (cp and set(cp) != set(shapes)):
                    raise QauditError(f"params.constituents[{s}].checkpoints[{r}] has the wrong weights")
                cps.append({k: decode_array(v, f"checkpoint {s}/{r} {k}", shapes[k]).copy() for k, v in cp.items()})
            model.members.append(member)
            model.checkpoints.append(cps)
        return model


def _shard_job(options: dict[str, Any], n_classes: int, s: int, first: int, member: dict[str, Any] | None,
               checkpoints: list[dict[str, np.ndarray]], slices: list[np.ndarray],
               pool: tuple[np.ndarray, np.ndarray]) -> tuple[dict[str, Any] | None, list[dict[str, np.ndarray]], int]:
    """Job: train shard *s* from slice *first* (0 = from scratch; else from ``checkpoints[first - 1]`` on
    the shard's *member* document) over the slices ``pool[slices[r]]``; return the member's document,
    the shard's checkpoints (one weight dict per slice) and the gradient evaluations spent."""
    ensemble = SisaEnsemble(**options)
    ensemble.n_classes = n_classes
    X, y = pool
    checkpoints = [{k: v.copy() for k, v in c.items()} for c in checkpoints[:first]]
    model = None
    if first > 0:
        model = ensemble._constituent_cls().from_document(member)
        model.weights = {k: v.copy() for k, v in checkpoints[first - 1].items()}
    spent = 0
    for r in range(first, ensemble.options["slices"]):
        rows = slices[r]
        if len(rows) == 0:
            checkpoints.append({} if model is None else {k: v.copy() for k, v in model.weights.items()})
            continue
        Xs, ys = X[rows], y[rows]
        if model is None:
            model = ensemble._template(s)
            try:
                model.initialise(Xs, ys, n_classes=n_classes)
            except QauditError as exc:
                raise QauditError(f"sisa shard {s}: {exc} (the first slice of a shard fits the "
                                  "preprocessing; use fewer shards or slices)") from None
        rng = np.random.default_rng([ensemble._seed(s) & 0xFFFFFFFF, r])
        epochs = ensemble._slice_epochs()
        model.partial_fit(Xs, ys, epochs=epochs, rng=rng)
        spent += epochs * len(rows)
        checkpoints.append({k: v.copy() for k, v in model.weights.items()})
    return (None if model is None else model.to_document()), checkpoints, spent
