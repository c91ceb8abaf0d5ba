"""Attacks that train reference or shadow QNNs.

* ``lira`` (online) / ``lira-offline`` -- Carlini et al. 2022. Statistic: the
  logit-scaled confidence φ = log(p_y / (1 - p_y)). Per target sample, Gaussians
  N(μ_in, σ_in²) and N(μ_out, σ_out²) fitted to φ of the reference models that
  did / did not train on it (exact outputs: the attacker simulates its own
  models). Online score: log N(φ_t; in) - log N(φ_t; out); offline: the
  standardised distance (φ_t - μ_out) / σ_out (monotone in Carlini's one-sided
  p-value), using only the OUT models of the shared reference set.
  **Shot-aware** (``shot_noise``, on by default): with finite shots the target's
  ⟨Z_j⟩ are estimates with covariance (⟨Z_iZ_j⟩ - ⟨Z_i⟩⟨Z_j⟩)/shots (diagonal
  (1 - ⟨Z_j⟩²)/shots; the full matrix comes from the raw bit-string counts when
  available); the delta method through the classical head gives the variance of
  φ_t, which is added to both Gaussians' variances per example.
* ``rmia`` -- Zarifzadeh et al. 2024. LR(x, z) = [p_t(y_x|x)/p(y_x|x)] /
  [p_t(y_z|z)/p(y_z|z)] with p(.) the mean over reference models (online) or
  ((1+a)·mean_OUT + (1-a))/2 (offline, a = 0.3); score(x) = fraction of population
  z-samples with LR(x, z) > γ (γ = 1).
* ``counts-lr`` -- a likelihood-ratio test on raw bit strings: with the
  reference models' exact measurement distributions q_in(x), q_out(x) (averaged
  over IN / OUT models), score = Σ_b c_b · log(q_in,b / q_out,b) for the
  target's observed counts c (needs ``--shots``). Circuits trained from
  different random initialisations are not comparable bit string by bit string
  (the dense head absorbs any relabelling), so its reference QNNs start from the
  target's own initial weights (an auditor who controls training knows them);
  with independently initialised references the test is at chance.
* ``shadow`` -- Shokri et al. 2017: ``n_shadow`` shadow QNNs of the target's
  kind trained on disjoint halves of population data the target never saw; an
  MLP on the paper's 13 output features learns IN vs OUT from them and scores
  the target's outputs.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from qaudit.sdk import MAX_EPOCHS, MAX_REFERENCE_MODELS, MAX_Z_SAMPLES, QauditError
from qaudit_attacks.common import check_options, logit_confidence, options, paper_features, true_class_prob
from qaudit_attacks.refmodels import reference_probs, reference_set, same_samples, train_models

VAR_FLOOR = 1e-4


def _gauss_logpdf(x: np.ndarray, mu: np.ndarray, var: np.ndarray) -> np.ndarray:
    return -0.5 * (np.log(2 * np.pi * var) + (x - mu) ** 2 / var)


def _masked_stats(values: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-column mean and variance of *values* (K, n) over rows where *mask*; NaN when empty."""
    count = mask.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mu = np.where(mask, values, 0).sum(axis=0) / count
        var = np.where(mask, (values - mu) ** 2, 0).sum(axis=0) / np.maximum(count - 1, 1)
    return mu, var


def _target_keep(refs: Any, X: np.ndarray) -> np.ndarray:
    """(K, n) IN-mask for the batch *X*: the training keep matrix for the scored targets, else all OUT."""
    if same_samples(X, refs.X_targets):
        return refs.keep
    return np.zeros((len(refs.models), len(X)), bool)


def phi_shot_variance(model: Any, outputs: Any, y: np.ndarray) -> np.ndarray | None:
    """Variance of φ = logit(p_y) caused by finite shots (delta method), or None when not modelled.

    Needs the model's dense head (``weights["W"]``) and the estimated
    expectation values; uses the bit-string covariance when counts are present.
    """
    from qaudit.sdk.engine import readout_table

    if not outputs.shots or outputs.expectations is None:
        return None
    W = getattr(model, "weights", {}).get("W")
    if W is None:
        return None
    ev = outputs.expectations
    probs = outputs.probs
    n = len(y)
    py = np.clip(true_class_prob(probs, y), 1e-12, 1 - 1e-12)
    onehot = np.zeros_like(probs)
    onehot[np.arange(n), y] = 1.0
    dphi_dlogit = (onehot - probs) / (1 - py)[:, None]  # (n, C)
    g = dphi_dlogit @ W.T  # (n, n_obs): dφ/d⟨O_j⟩
    if outputs.counts is not None and outputs.observables is not None:
        signs = readout_table(outputs.observables, int(outputs.n_qubits))
        freq = outputs.counts / outputs.counts.sum(axis=1, keepdims=True)
        second = np.einsum("nb,bi,bj->nij", freq, signs, signs)  # E[z_i z_j]
        cov = (second - ev[:, :, None] * ev[:, None, :]) / outputs.shots
        return np.einsum("ni,nij,nj->n", g, cov, g)
    return np.sum(g**2 * (1 - ev**2), axis=1) / outputs.shots


class LiRAAttack:
    """Online LiRA (Carlini et al. 2022) with a shot-noise term."""

    name: ClassVar[str] = "lira"
    uses_known_labels: ClassVar[bool] = False
    description: ClassVar[str] = "online LiRA (Carlini et al. 2022) with K reference QNNs; shot-aware Gaussians"
    needs_reference: ClassVar[bool] = True
    #: The target's and the reference models' outputs: runs on recorded outputs that include reference models.
    signals: ClassVar[frozenset[str]] = frozenset({"outputs", "reference_outputs"})
    online: ClassVar[bool] = True
    #: global_variance: "auto" pools the per-example variances across samples when K < 64, as Carlini et al.
    #: recommend for few reference models; true/false force it.
    DEFAULTS: ClassVar[dict[str, Any]] = {"shot_noise": True, "global_variance": "auto"}

    @classmethod
    def check_options(cls, all_options: dict[str, Any]) -> None:
        """Fail fast on this attack's options (see ``qaudit_attacks.common.check_options``)."""
        check_options(cls, all_options)
        gv = all_options.get(f"{cls.name}.global_variance", "auto")
        if gv not in ("auto", True, False) or isinstance(gv, (int, float)) and not isinstance(gv, bool):
            raise QauditError(f"attack {cls.name}: option global_variance must be auto, true or false, got {gv!r}")

    def fit(self, context: Any) -> LiRAAttack:
        """Train (or reuse) the audit's reference QNNs."""
        self.options_ = options(context, self.name, self.DEFAULTS)
        gv = self.options_["global_variance"]
        if gv not in ("auto", True, False):
            raise QauditError(f"attack {self.name}: option global_variance must be auto, true or false")
        self.refs_ = reference_set(context, self.name)
        self.global_variance_ = bool(len(self.refs_.models) < 64 if gv == "auto" else gv)
        return self

    def score(self, context: Any, X: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Per-example likelihood ratio of the target's logit confidence."""
        y = np.asarray(y)
        refs = self.refs_
        key = "targets" if same_samples(X, refs.X_targets) else f"batch{id(X)}"
        phi_ref = np.stack([logit_confidence(p, y) for p in reference_probs(context, refs, X, key)])
        keep = _target_keep(refs, X)
        out = context.outputs(X)
        phi = logit_confidence(out.probs, y)
        shot_var = phi_shot_variance(context.model, out, y) if self.options_["shot_noise"] else None
        extra = 0.0 if shot_var is None else shot_var
        self.shot_noise_modelled_ = shot_var is not None
        mu_out, var_out = _masked_stats(phi_ref, ~keep)
        if self.global_variance_:
            var_out = np.full_like(var_out, np.nanmean(var_out))
        var_out = np.maximum(np.nan_to_num(var_out, nan=1.0), VAR_FLOOR) + extra
        if not self.online or not keep.any():
            return (phi - mu_out) / np.sqrt(var_out)
        mu_in, var_in = _masked_stats(phi_ref, keep)
        if self.global_variance_:
            var_in = np.full_like(var_in, np.nanmean(var_in))
        var_in = np.maximum(np.nan_to_num(var_in, nan=1.0), VAR_FLOOR) + extra
        return _gauss_logpdf(phi, mu_in, var_in) - _gauss_logpdf(phi, mu_out, var_out)

    def details(self) -> dict[str, Any]:
        """Epochs, shot-noise modelling and reference models of the fitted attack (for the report)."""
        from qaudit_attacks.common import fitted_details

        return fitted_details(self)


class LiRAOfflineAttack(LiRAAttack):
    """Offline LiRA: only reference models that did not train on the sample."""

    name = "lira-offline"
    description = "offline LiRA (Carlini et al. 2022): OUT reference QNNs only; shot-aware"
    online = False


class RMIAAttack:
    """RMIA (Zarifzadeh et al. 2024)."""

    name: ClassVar[str] = "rmia"
    #: In the default audit (ML Privacy Meter's default attack too). Zarifzadeh et al. (2024) designed it to
    #: stay strong with few reference models; by default it trains one complementary pair (every scored
    #: sample IN for one, OUT for the other), which keeps the default audit quick.
    roles: ClassVar[frozenset[str]] = frozenset({"default"})
    reference_models: ClassVar[int] = 2
    uses_known_labels: ClassVar[bool] = False
    description: ClassVar[str] = "RMIA (Zarifzadeh et al. 2024): likelihood ratios against population z-samples"
    needs_reference: ClassVar[bool] = True
    #: The target's and the reference models' outputs (z-samples: population, else the scored samples).
    signals: ClassVar[frozenset[str]] = frozenset({"outputs", "reference_outputs"})
    DEFAULTS: ClassVar[dict[str, Any]] = {"gamma": 1.0, "offline": False, "a": 0.3, "n_z": 2000}
    RANGES: ClassVar[dict[str, tuple[Any, ...]]] = {"gamma": (0.0, 1e6, "open"), "a": (0.0, 1.0),
                                                    "n_z": (1, MAX_Z_SAMPLES)}
    check_options = classmethod(check_options)

    def fit(self, context: Any) -> RMIAAttack:
        """Train (or reuse) the reference QNNs and pick the z-samples (population, else known non-members,
        else the scored samples: the score is then a monotone function of the sample's own ratio)."""
        self.options_ = o = options(context, self.name, self.DEFAULTS, self.RANGES)
        self.refs_ = refs = reference_set(context, self.name)
        Xz, yz = self._z_samples(context, o)
        p_ref = np.stack([true_class_prob(p, yz) for p in reference_probs(context, refs, Xz, "rmia_z")])
        p_target = true_class_prob(context.outputs(Xz).probs, yz)
        # z-samples are not scored targets: every reference model is OUT for them unless trained on them
        self.ratio_z_ = np.sort(p_target / np.maximum(self._marginal(p_ref, None), 1e-30))
        return self

    @classmethod
    def target_samples(cls, context: Any) -> np.ndarray | None:
        """The population z-samples ``fit`` queries the target on (None: it uses scored samples only)."""
        if context.population_X is None or len(context.population_X) < 10:
            return None
        return cls._z_samples(context, options(context, cls.name, cls.DEFAULTS, cls.RANGES))[0]

    @staticmethod
    def _z_samples(context: Any, o: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        if context.population_X is not None and len(context.population_X) >= 10:
            Xz, yz = context.population_X, np.asarray(context.population_y)
        elif len(context.X_non_members) >= 10:
            Xz, yz = context.X_non_members, np.asarray(context.y_non_members)
        else:  # no population (recorded outputs): the scored samples themselves, their membership unused
            Xz, yz = context.X_targets, np.asarray(context.y_targets)
        if len(Xz) > o["n_z"]:
            pick = np.random.default_rng(context.seed + 31).choice(len(Xz), o["n_z"], replace=False)
            Xz, yz = Xz[pick], yz[pick]
        return Xz, yz

    def _marginal(self, p_ref: np.ndarray, keep: np.ndarray | None) -> np.ndarray:
        if not self.options_["offline"]:
            return p_ref.mean(axis=0)
        out = p_ref if keep is None else np.where(~keep, p_ref, np.nan)
        a = self.options_["a"]
        return 0.5 * ((1 + a) * np.nanmean(out, axis=0) + (1 - a))

    def score(self, context: Any, X: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Fraction of z-samples each sample dominates by a factor gamma."""
        y = np.asarray(y)
        refs = self.refs_
        key = "targets" if same_samples(X, refs.X_targets) else f"batch{id(X)}"
        p_ref = np.stack([true_class_prob(p, y) for p in reference_probs(context, refs, X, key)])
        ratio_x = true_class_prob(context.outputs(X).probs, y) / np.maximum(
            self._marginal(p_ref, _target_keep(refs, X)), 1e-30)
        # LR(x, z) > gamma  <=>  ratio_z < ratio_x / gamma
        dominated = np.searchsorted(self.ratio_z_, ratio_x / self.options_["gamma"], side="left")
        return dominated / len(self.ratio_z_)

    def details(self) -> dict[str, Any]:
        """Epochs, shot-noise modelling and reference models of the fitted attack (for the report)."""
        from qaudit_attacks.common import fitted_details

        return fitted_details(self)


class CountsLRAttack:
    """Likelihood-ratio test on raw bit-string counts (finite shots only)."""

    name: ClassVar[str] = "counts-lr"
    uses_known_labels: ClassVar[bool] = False
    description: ClassVar[str] = "shot-level likelihood ratio on raw bit-string counts vs reference QNNs (--shots)"
    needs_reference: ClassVar[bool] = True
    needs_shots: ClassVar[bool] = True
    #: Raw counts, and the reference QNNs' exact measurement distributions (they are trained from the target).
    signals: ClassVar[frozenset[str]] = frozenset({"counts", "model"})
    DEFAULTS: ClassVar[dict[str, Any]] = {}
    check_options = classmethod(check_options)

    def fit(self, context: Any) -> CountsLRAttack:
        """Train (or reuse) the reference QNNs."""
        options(context, self.name, self.DEFAULTS)
        if not context.shots:
            raise QauditError("attack counts-lr scores raw bit strings: pass --shots N")
        self.refs_ = reference_set(context, self.name, same_init=True)
        return self

    def score(self, context: Any, X: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Σ_b c_b log(q_in,b / q_out,b) over the target's bit-string counts."""
        from qaudit.sdk import basis_distribution

        out = context.outputs(X)
        if out.counts is None:
            raise QauditError("attack counts-lr: this backend does not return bit-string counts")
        refs = self.refs_
        keep = _target_keep(refs, X)
        q = np.stack([basis_distribution(m, X) for m in refs.models])  # (K, n, 2**q)
        w_in = keep / np.maximum(keep.sum(axis=0), 1)
        w_out = ~keep / np.maximum((~keep).sum(axis=0), 1)
        q_in = np.einsum("kn,knb->nb", w_in, q)
        q_out = np.einsum("kn,knb->nb", w_out, q)
        floor = 0.5 / (out.shots * q.shape[2])
        q_in, q_out = np.maximum(q_in, floor), np.maximum(q_out, floor)
        if not keep.any():
            return np.sum(out.counts * np.log(q_out), axis=1) * -1.0
        return np.sum(out.counts * (np.log(q_in) - np.log(q_out)), axis=1)

    def details(self) -> dict[str, Any]:
        """Epochs, shot-noise modelling and reference models of the fitted attack (for the report)."""
        from qaudit_attacks.common import fitted_details

        return fitted_details(self)


class ShadowAttack:
    """Shokri et al. shadow-model attack on disjoint population data."""

    name: ClassVar[str] = "shadow"
    uses_known_labels: ClassVar[bool] = False
    description: ClassVar[str] = "shadow models (Shokri et al. 2017) on population data the target never saw + MLP"
    needs_reference: ClassVar[bool] = True
    #: Trains shadow QNNs of the target's architecture.
    signals: ClassVar[frozenset[str]] = frozenset({"outputs", "model"})
    DEFAULTS: ClassVar[dict[str, Any]] = {"n_shadow": 4, "epochs": 500, "alpha": 1e-3}
    RANGES: ClassVar[dict[str, tuple[Any, ...]]] = {"n_shadow": (1, MAX_REFERENCE_MODELS), "epochs": (1, MAX_EPOCHS),
                                                    "alpha": (0.0, 1e6)}
    check_options = classmethod(check_options)

    def fit(self, context: Any) -> ShadowAttack:
        """Train shadow QNNs on halves of the population, then the IN/OUT attack classifier."""
        from sklearn.neural_network import MLPClassifier
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        o = options(context, self.name, self.DEFAULTS, self.RANGES)
        if context.population_X is None or not len(context.population_X):
            raise QauditError("attack shadow needs population data the target never saw; the dataset has none "
                              "left over (use fewer members/holdout or a larger dataset)")
        Xp, yp = context.population_X, np.asarray(context.population_y)
        size = min(int(context.n_train or len(Xp)), len(Xp) // 2)
        if context.n_train and size < max(10, context.n_train // 4):
            raise QauditError(f"attack shadow: the dataset is too small: {len(Xp)} population samples give shadow "
                              f"models of {size} samples, under a quarter of the target's {context.n_train}")
        rng = np.random.default_rng(context.seed + 17)
        splits = []
        for _ in range(o["n_shadow"]):
            perm = rng.permutation(len(Xp))
            splits.append((perm[:size], perm[size:2 * size]))
        models = train_models(context.model, (Xp, yp), [inside for inside, _ in splits], context.seed + 65537,
                              context, f"{o['n_shadow']} shadow QNNs")
        feats, labels = [], []
        for m, (inside, outside) in zip(models, splits):
            for idx, label in ((inside, 1), (outside, 0)):
                probs = context.outputs(Xp[idx], model=m, exact=True).probs
                feats.append(paper_features(probs, yp[idx]))
                labels.append(np.full(len(idx), label))
        mlp = MLPClassifier(hidden_layer_sizes=(64, 64), learning_rate_init=0.01, alpha=o["alpha"],
                            max_iter=o["epochs"], random_state=context.seed)
        import warnings

        from sklearn.exceptions import ConvergenceWarning
        from threadpoolctl import threadpool_limits

        # small matrices: multi-threaded BLAS only adds contention (5x slower on a busy 2-core machine)
        with warnings.catch_warnings(), threadpool_limits(limits=1, user_api="blas"):
            warnings.simplefilter("ignore", ConvergenceWarning)
            self.model_ = make_pipeline(StandardScaler(), mlp).fit(np.vstack(feats), np.concatenate(labels))
        return self

    def score(self, context: Any, X: np.ndarray, y: np.ndarray) -> np.ndarray:
        """The shadow-trained classifier's member probability on the target's outputs."""
        return self.model_.predict_proba(paper_features(context.outputs(X).probs, np.asarray(y)))[:, 1]
