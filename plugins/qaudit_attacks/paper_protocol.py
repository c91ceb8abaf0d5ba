"""The gray-box attack's ``protocol=paper``: the authors' ``HQNN/MIA.py`` (github Sujun124/QMU, e557acc), step by step.

Facts of the authors' script this module reproduces (line numbers in ``HQNN/MIA.py``):

* pool: the first 500 training members (``indices[0][0:500]``, line 34) labelled 1 and the test-set
  samples (``indices[1]``, line 35; 500 in ``HQNN/HQNN.py``'s ``-n_test`` default) labelled 0;
  features: the 10 softmax probabilities, the max probability, correctness, the cross-entropy
  (lines 164-187; the same 13 features as :func:`qaudit_attacks.common.paper_features`);
* split: one random permutation of the 1000 pool points; the attack trains on the first 800
  (lines 77-81); the other 200 are never used for the reported figure;
* attack model: Linear(13, 64) -> ReLU -> Dropout(0.3) -> Linear(64, 64) -> ReLU -> Linear(64, 1) ->
  sigmoid (lines 56-70), BCE loss, Adam lr 0.01 (lines 73-74), 1000 full-batch epochs (lines 90-96),
  features not standardised;
* the reported figure: the fraction of digit-4 members *of the same first 500* called member
  (probability > 0.5, eval mode) after the last epoch (lines 44, 51-52, 99-106). About 80 % of those
  points are in the attack's 800 training points, so the figure is not a held-out metric; no
  false-positive rate is reported.

The MLP is numpy with PyTorch's semantics (default ``nn.Linear`` initialisation U(±1/√fan_in), inverted
dropout, ``torch.optim.Adam`` defaults, ``BCELoss`` with its log clamp at -100), because scikit-learn's
``MLPClassifier`` has no dropout. Our pool takes the first 500 members in the model's recorded order
(sorted indices of a seeded random draw); the authors' first 500 follow ``random.sample``'s order
(``HQNN/HQNN.py`` line 104) -- both are subsets chosen without looking at the samples.
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: Sizes and schedule of ``HQNN/MIA.py`` (lines 34-35, 77-81, 90).
POOL_MEMBERS = 500
POOL_NON_MEMBERS = 500
ATTACK_TRAIN = 800
EPOCHS = 1000
LR = 0.01
DROPOUT = 0.3
HIDDEN = 64
#: Where each protocol detail comes from (file: lines), quoted in reports.
SOURCES = {
    "pool": "HQNN/MIA.py:34-35 (first 500 training members + the test indices)",
    "features": "HQNN/MIA.py:164-187 (softmax, max, correct, cross-entropy)",
    "split": "HQNN/MIA.py:77-81 (random permutation, first 800 train the attack)",
    "attack model": "HQNN/MIA.py:56-74, 90-96 (MLP 64-64, dropout 0.3, Adam lr 0.01, BCE, 1000 full-batch epochs)",
    "scored": "HQNN/MIA.py:44, 51-52, 99-106 (digit-4 members of the same first 500, threshold 0.5)",
}
LABEL = "paper protocol (HQNN/MIA.py): NOT a held-out metric; not used in any verdict or gate"


class TorchStyleMLP:
    """The authors' attack MLP with PyTorch's initialisation, dropout and Adam, in numpy (float64)."""

    def __init__(self, n_in: int, rng: np.random.Generator, hidden: int = HIDDEN, dropout: float = DROPOUT):
        self.rng, self.dropout = rng, dropout
        self.params: list[np.ndarray] = []
        for fan_in, fan_out in ((n_in, hidden), (hidden, hidden), (hidden, 1)):
            bound = 1.0 / np.sqrt(fan_in)  # nn.Linear.reset_parameters: kaiming_uniform(a=√5) and bias
            self.params += [rng.uniform(-bound, bound, (fan_in, fan_out)), rng.uniform(-bound, bound, fan_out)]

    def forward(self, X: np.ndarray, train: bool = False) -> tuple[np.ndarray, list[np.ndarray]]:
        """Member probabilities (n,) and the activations the backward pass needs."""
        W1, b1, W2, b2, W3, b3 = self.params
        h1 = np.maximum(X @ W1 + b1, 0.0)
        mask = np.ones_like(h1)
        if train and self.dropout:
            mask = (self.rng.random(h1.shape) >= self.dropout) / (1.0 - self.dropout)
        d1 = h1 * mask
        h2 = np.maximum(d1 @ W2 + b2, 0.0)
        p = 0.5 * (1.0 + np.tanh(0.5 * (h2 @ W3 + b3)[:, 0]))  # the sigmoid, without overflow
        return p, [X, h1, mask, d1, h2]

    def loss_and_grads(self, X: np.ndarray, y: np.ndarray) -> tuple[float, list[np.ndarray]]:
        """``BCELoss`` (mean; logs clamped at -100 like PyTorch) and its gradient, dropout active."""
        p, (x, h1, mask, d1, h2) = self.forward(X, train=True)
        with np.errstate(divide="ignore"):
            logp, log1mp = np.maximum(np.log(p), -100.0), np.maximum(np.log1p(-p), -100.0)
        loss = float(-np.mean(y * logp + (1 - y) * log1mp))
        n = len(y)
        dz3 = ((p - y) / n)[:, None]  # d(mean BCE)/dlogit (the clamp is inactive away from p in {0, 1})
        W1, _, W2, _, W3, _ = self.params
        dh2 = (dz3 @ W3.T) * (h2 > 0)
        dd1 = dh2 @ W2.T
        dh1 = dd1 * mask * (h1 > 0)
        grads = [x.T @ dh1, dh1.sum(0), d1.T @ dh2, dh2.sum(0), h2.T @ dz3, dz3.sum(0)]
        return loss, grads

    def fit(self, X: np.ndarray, y: np.ndarray, epochs: int = EPOCHS, lr: float = LR) -> TorchStyleMLP:
        """Full-batch Adam (β = 0.9, 0.999; ε = 1e-8; bias-corrected, as ``torch.optim.Adam``)."""
        m = [np.zeros_like(p) for p in self.params]
        v = [np.zeros_like(p) for p in self.params]
        for t in range(1, epochs + 1):
            _, grads = self.loss_and_grads(X, y)
            for i, g in enumerate(grads):
                m[i] = 0.9 * m[i] + 0.1 * g
                v[i] = 0.999 * v[i] + 0.001 * g * g
                step = lr * (m[i] / (1 - 0.9 ** t)) / (np.sqrt(v[i] / (1 - 0.999 ** t)) + 1e-8)
                self.params[i] = self.params[i] - step
        return self


def run(f_members: np.ndarray, y_members: np.ndarray, f_non_members: np.ndarray, seed: int,
        forget_class: int | None) -> dict[str, Any]:
    """``HQNN/MIA.py`` on gray-box features (rows in the pool's order): the paper's figure and its overlap.

    *f_members*/*y_members*: features and labels of the target's members in recorded order (the first
    :data:`POOL_MEMBERS` enter the pool); *f_non_members*: non-members (the first :data:`POOL_NON_MEMBERS`).
    The scored points are the pool's members of *forget_class* (every pool member when None).
    """
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(seed)
    n_in, n_out = min(POOL_MEMBERS, len(f_members)), min(POOL_NON_MEMBERS, len(f_non_members))
    pool = np.vstack([f_members[:n_in], f_non_members[:n_out]])
    label = np.r_[np.ones(n_in), np.zeros(n_out)]
    order = rng.permutation(len(pool))
    # 800 of 1000; a smaller pool (fewer members or non-members available) keeps the 80 % share
    n_train = int(round(len(pool) * ATTACK_TRAIN / (POOL_MEMBERS + POOL_NON_MEMBERS)))
    train_idx = order[:n_train]
    mlp = TorchStyleMLP(pool.shape[1], rng)
    with threadpool_limits(limits=1, user_api="blas"):  # small matrices: threads only add contention
        mlp.fit(pool[train_idx], label[train_idx])
        called = mlp.forward(pool)[0] > 0.5
    scope = np.ones(n_in, bool) if forget_class is None else np.asarray(y_members[:n_in]) == forget_class
    scored = np.flatnonzero(scope)  # pool rows 0..n_in-1 are the members
    in_train = np.isin(scored, train_idx)
    held_out_members = np.setdiff1d(np.arange(n_in), train_idx)
    held_out_non = np.setdiff1d(np.arange(n_in, n_in + n_out), train_idx)
    return {
        "label": LABEL,
        "figure": float(called[scored].mean()) if len(scored) else None,
        "figure_scope": f"class {forget_class} members of the pool" if forget_class is not None else "pool members",
        "pool_members": int(n_in), "pool_non_members": int(n_out), "attack_train": int(n_train),
        "epochs": EPOCHS, "scored": int(len(scored)), "scored_in_attack_train": int(in_train.sum()),
        "overlap_fraction": float(in_train.mean()) if len(scored) else None,
        "scored_only_held_out": float(called[scored[~in_train]].mean()) if (~in_train).any() else None,
        "pool_held_out_member_rate": float(called[held_out_members].mean()) if len(held_out_members) else None,
        "pool_held_out_non_member_rate": float(called[held_out_non].mean()) if len(held_out_non) else None,
        "seed": int(seed), "sources": SOURCES,
    }
