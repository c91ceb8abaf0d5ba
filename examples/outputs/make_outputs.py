"""Make ``examples/outputs/outputs.npz``: a black-box outputs file from a qaudit-trained digits model.

Run from the repository root (about a minute on 2 cores; deterministic for a given --seed)::

    python examples/outputs/make_outputs.py [--out examples/outputs/outputs.npz] [--n 200] [--seed 0]

It trains a small basic QNN on members of the embedded digits data, records its class probabilities
on its members and on as many non-members, and trains K reference QNNs of the same architecture,
each on a random half of those samples (every sample is IN for half of the models, as in LiRA),
recording their probabilities and the (K, n) membership matrix. The result is exactly what a user
with outputs from elsewhere would write (docs/outputs-format.md); audit it with

    qaudit leak --outputs examples/outputs/outputs.npz
"""

from __future__ import annotations

import argparse

import numpy as np

from qaudit import api
from qaudit.sdk import predict_proba

#: Small and quick: 4 qubits x 3 layers, 30 epochs (the model over-fits its few members a little).
OPTIONS = {"qubits": 4, "layers": 3, "epochs": 30}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="examples/outputs/outputs.npz")
    parser.add_argument("--n", type=int, default=200, help="samples recorded (half members, half non-members)")
    parser.add_argument("--references", type=int, default=8, help="reference models K (even)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    half = args.n // 2
    ds = api.load_dataset("digits")
    target = api.train("basic-qnn", ds, n_train=half, n_holdout=half, seed=args.seed, options=OPTIONS)
    rows = np.concatenate([target.data.members, target.data.holdout])
    X, y = ds.X[rows], ds.y[rows]
    membership = np.r_[np.ones(half, np.int64), np.zeros(half, np.int64)]
    rng = np.random.default_rng(args.seed + 1)
    K = args.references
    keep = np.argsort(rng.random((K, len(rows))), axis=0) < K // 2  # each sample IN for exactly K/2 models
    cls, params = type(target.model), target.model.get_params()
    ref_probs = []
    for k in range(K):
        model = cls.from_options({**params, "seed": args.seed + 1000 + k})
        model.fit(X[keep[k]], y[keep[k]], n_classes=ds.n_classes)
        ref_probs.append(predict_proba(model, X))
        print(f"reference model {k + 1}/{K} trained", flush=True)
    np.savez_compressed(args.out, probs=predict_proba(target.model, X), labels=y.astype(np.int64),
                        membership=membership, ref_probs=np.stack(ref_probs), ref_membership=keep.astype(np.int64))
    print(f"wrote {args.out}: {len(rows)} samples, {ds.n_classes} classes, {K} reference models")


if __name__ == "__main__":
    main()
