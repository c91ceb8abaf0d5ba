"""The attack classifier of the gray-box attack: standardised features -> MLP -> member probability.

A small numpy network with scikit-learn ``MLPClassifier``'s training rule (the gray-box attack used
``make_pipeline(StandardScaler(), MLPClassifier(...))`` before; importing scikit-learn and its
per-epoch overhead cost more than the arithmetic on these ~1000 x 13 matrices):

* features standardised with the training rows' mean and standard deviation (constant columns
  divided by 1, as ``StandardScaler``);
* ReLU hidden layers, a logistic output; Glorot-uniform initialisation of weights and biases
  (bound sqrt(6 / (fan_in + fan_out)), sqrt(2 / ...) for the logistic output, as scikit-learn);
* loss = mean binary cross-entropy + alpha / (2 n) * sum of squared weights (scikit-learn's L2 term);
* full-batch Adam (beta 0.9 / 0.999, eps 1e-8, bias-corrected), at most ``epochs`` epochs; training
  stops when the loss has not improved by ``tol`` for ``n_iter_no_change`` consecutive epochs
  (scikit-learn's rule).

float32 arithmetic (``dtype``): the attack's scores are probabilities compared by rank; the
before/after comparison is in benchmarks/README.md ("gray-box attack model").
"""

from __future__ import annotations

import numpy as np


class AttackMLP:
    """``fit(X, y) -> self``, ``predict_proba(X) -> (n, 2)``; seeded, deterministic."""

    def __init__(self, hidden: tuple[int, ...] = (64, 64), lr: float = 0.01, alpha: float = 1e-3,
                 epochs: int = 1000, tol: float = 1e-4, n_iter_no_change: int = 10, seed: int = 0,
                 dtype: type = np.float32, validation_fraction: float = 0.0) -> None:
        self.hidden, self.lr, self.alpha, self.epochs = tuple(hidden), lr, alpha, epochs
        self.tol, self.n_iter_no_change, self.seed, self.dtype = tol, n_iter_no_change, seed, dtype
        self.validation_fraction = validation_fraction

    def _standardise(self, X: np.ndarray) -> np.ndarray:
        return ((np.asarray(X, np.float64) - self.mean_) / self.scale_).astype(self.dtype)

    def _init(self, n_in: int) -> None:
        rng = np.random.default_rng(self.seed)
        sizes = (n_in, *self.hidden, 1)
        self.weights_, self.biases_ = [], []
        for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
            factor = 2.0 if i == len(sizes) - 2 else 6.0  # logistic output layer, as scikit-learn
            bound = np.sqrt(factor / (fan_in + fan_out))
            self.weights_.append(rng.uniform(-bound, bound, (fan_in, fan_out)).astype(self.dtype))
            self.biases_.append(rng.uniform(-bound, bound, fan_out).astype(self.dtype))

    def _forward(self, Z: np.ndarray) -> list[np.ndarray]:
        """Activations of every layer; the last is the output logit (n, 1)."""
        acts = [Z]
        for W, b in zip(self.weights_[:-1], self.biases_[:-1], strict=True):
            h = acts[-1] @ W
            h += b
            np.maximum(h, 0, out=h)
            acts.append(h)
        acts.append(acts[-1] @ self.weights_[-1] + self.biases_[-1])
        return acts

    def _loss_and_grads(self, Z: np.ndarray, y: np.ndarray) -> tuple[float, list[np.ndarray], list[np.ndarray]]:
        acts = self._forward(Z)
        logit = acts[-1][:, 0].astype(np.float64)
        n = len(y)
        # mean BCE from the logit, stable: log(1 + e^z) - y z
        loss = float(np.mean(np.logaddexp(0.0, logit) - y * logit))
        loss += 0.5 * self.alpha * sum(float(np.vdot(W, W)) for W in self.weights_) / n
        p = 0.5 * (1.0 + np.tanh(0.5 * logit))
        delta = ((p - y) / n).astype(self.dtype)[:, None]
        gw, gb = [], []
        for layer in range(len(self.weights_) - 1, -1, -1):
            W = self.weights_[layer]
            gw.append(acts[layer].T @ delta + (self.alpha / n) * W)
            gb.append(delta.sum(axis=0))
            if layer:
                # an (n, 1) @ (1, h) matmul is an outer product: broadcasting is 10x faster
                delta = delta * W.T if W.shape[1] == 1 else delta @ W.T
                delta *= acts[layer] > 0
        return loss, gw[::-1], gb[::-1]

    def _validation_split(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Boolean masks (train, validation), stratified by label, seeded; all rows train when off."""
        val = np.zeros(y.size, bool)
        if self.validation_fraction > 0:
            rng = np.random.default_rng([self.seed, 7919])
            for group in (np.flatnonzero(y == 1), np.flatnonzero(y == 0)):
                k = int(round(self.validation_fraction * group.size))
                if 0 < k < group.size:
                    val[rng.choice(group, size=k, replace=False)] = True
        return ~val, val

    def _loss(self, Z: np.ndarray, y: np.ndarray) -> float:
        logit = self._forward(Z)[-1][:, 0].astype(np.float64)
        return float(np.mean(np.logaddexp(0.0, logit) - y * logit))

    def fit(self, X: np.ndarray, y: np.ndarray) -> AttackMLP:
        """Standardise, initialise (seeded) and train with full-batch Adam until the loss stalls (the
        training loss, or with ``validation_fraction`` the loss on that held-back share of the rows,
        whose best weights are kept)."""
        X = np.asarray(X, np.float64)
        y = np.asarray(y, np.float64).ravel()
        train, val = self._validation_split(y)
        self.mean_ = X[train].mean(axis=0)
        scale = X[train].std(axis=0)
        self.scale_ = np.where(scale > 0, scale, 1.0)
        Z, Zv, yv = self._standardise(X[train]), self._standardise(X[val]), y[val]
        y = y[train]
        self._init(Z.shape[1])
        params = self.weights_ + self.biases_
        m = [np.zeros_like(q) for q in params]
        v = [np.zeros_like(q) for q in params]
        best, stalled, kept, self.loss_curve_ = np.inf, 0, None, []
        for t in range(1, self.epochs + 1):
            loss, gw, gb = self._loss_and_grads(Z, y)
            self.loss_curve_.append(loss)
            step = self.lr * np.sqrt(1 - 0.999 ** t) / (1 - 0.9 ** t)
            for q, g, mq, vq in zip(params, gw + gb, m, v, strict=True):
                mq *= 0.9
                mq += 0.1 * g
                vq *= 0.999
                vq += 0.001 * g * g
                q -= step * mq / (np.sqrt(vq) + 1e-8)
            if val.any():
                loss = self._loss(Zv, yv)
                if loss < best:
                    kept = [q.copy() for q in params]
            stalled = stalled + 1 if loss > best - self.tol else 0
            best = min(best, loss)
            if stalled > self.n_iter_no_change:
                break
        if kept is not None:
            for q, saved in zip(params, kept, strict=True):
                q[...] = saved
        self.n_iter_ = t
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """(n, 2) float64: probability of non-member, of member."""
        logit = self._forward(self._standardise(X))[-1][:, 0].astype(np.float64)
        p = 0.5 * (1.0 + np.tanh(0.5 * logit))
        return np.column_stack([1.0 - p, p])
