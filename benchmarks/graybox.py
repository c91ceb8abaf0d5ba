"""The gray-box attack model before and after issue 19: power and time on null and memorising QNNs.

Variants, each run as a full cross-fitted audit (attacks gray-box and loss, 5 folds, seeds 0..S-1):

* ``sklearn`` -- the reference measured in the same run: scikit-learn ``MLPClassifier`` 64-64 behind a
  ``StandardScaler``, full-batch Adam, stopping when the *training* loss stalls (the attack before);
* ``numpy, validation=0`` -- qaudit's numpy MLP with the same stopping rule (``-A gray-box.validation=0``);
* ``numpy (default)`` -- early stopping on a tenth of the attack's training rows.

Models (digits): the README's basic QNN (``qaudit train`` defaults of the quickstart: no measurable leakage),
a null audit (members and non-members both drawn from the holdout), and two QNNs trained on random labels
(they memorise their members; 200 members x 60 epochs, 100 members x 150 epochs). Printed per model and
variant: mean held-out gray-box AUC (sd over seeds), the one-sided p-values, epochs per fold, seconds per
audit, and the loss attack's AUC as a yardstick.

Usage: python benchmarks/graybox.py [--seeds 3]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

from qaudit.leak.audit import AuditSettings, GroundTruth, ground_truth, run_audit
from qaudit.files.data import Dataset, load_dataset
from qaudit.train.workflows import train_model


def sklearn_fit(self, context):  # the attack's fit before issue 19 (reference)
    from qaudit_attacks.common import paper_features
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from threadpoolctl import threadpool_limits

    f_in = paper_features(context.outputs(context.X_members).probs, np.asarray(context.y_members))
    f_out = paper_features(context.outputs(context.X_non_members).probs, np.asarray(context.y_non_members))
    X, y = np.vstack([f_in, f_out]), np.r_[np.ones(len(f_in)), np.zeros(len(f_out))]
    mlp = MLPClassifier(hidden_layer_sizes=(64, 64), solver="adam", learning_rate_init=0.01, alpha=1e-3,
                        batch_size=len(X), max_iter=1000, random_state=context.seed, tol=1e-4, n_iter_no_change=10)
    with warnings.catch_warnings(), threadpool_limits(limits=1, user_api="blas"):
        warnings.simplefilter("ignore", ConvergenceWarning)
        self.model_ = make_pipeline(StandardScaler(), mlp).fit(X, y)
    self.epochs_ = int(mlp.n_iter_)
    return self


def models() -> dict:
    ds = load_dataset("digits")
    out = {"README basic QNN": (train_model("basic-qnn", ds, n_train=None, n_holdout=None, seed=0,
                                            options={"qubits": 6, "layers": 5, "epochs": 40}), ds, False),
           "null (holdout vs holdout)": (train_model("basic-qnn", ds, n_train=300, n_holdout=800, seed=2,
                                                     options={"qubits": 4, "layers": 3, "epochs": 5}), ds, True)}
    labels = np.random.default_rng(0).integers(0, 10, len(ds.y))
    random = Dataset("digits-random", ds.X, labels, image_shape=ds.image_shape)
    for n_train, epochs in ((200, 60), (100, 150)):
        mf = train_model("basic-qnn", random, n_train=n_train, n_holdout=600, seed=0,
                         options={"qubits": 6, "layers": 5, "epochs": epochs, "lr": 0.1, "batch_size": 8})
        out[f"random labels, {n_train} members"] = (mf, random, False)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    import qaudit_attacks.graybox as graybox

    numpy_fit = graybox.GrayBoxAttack.fit
    variants = {"sklearn (before)": (sklearn_fit, {}), "numpy, validation=0": (numpy_fit, {"gray-box.validation": 0.0}),
                "numpy (default)": (numpy_fit, {})}
    print(f"{'model':32} {'variant':20} {'gray-box AUC':>16} {'p-values':30} {'epochs/fold':>12} {'s/audit':>8} "
          f"{'loss AUC':>8}")
    for label, (mf, ds, null) in models().items():
        times = {}
        for variant, (fit, opts) in variants.items():
            graybox.GrayBoxAttack.fit = fit
            aucs, ps, epochs, seconds = [], [], [], []
            for seed in range(args.seeds):
                if null:
                    hold = np.random.default_rng(seed).permutation(mf.data.holdout)
                    truth = GroundTruth(np.sort(hold[:400]), np.sort(hold[400:800]), np.array([], np.int64), "null")
                else:
                    truth = ground_truth(mf, len(ds))
                start = time.perf_counter()
                rep = run_audit(mf, ds, truth, AuditSettings(attacks=["gray-box", "loss"], seed=seed, n_bootstrap=200,
                                                             attack_options=opts))
                seconds.append(time.perf_counter() - start)
                attack = rep.payload["attacks"]["gray-box"]
                aucs.append(attack["metrics"]["auc"])
                ps.append(attack["metrics"]["p_value"])
                epochs.append(attack["details"]["epochs"])
            times[variant] = float(np.mean(seconds))
            print(f"{label:32} {variant:20} {np.mean(aucs):8.3f} ± {np.std(aucs):.3f} "
                  f"{' '.join(f'{p:.1e}' for p in ps):30} {np.mean(epochs):12.0f} {times[variant]:8.2f} "
                  f"{rep.measurements['loss']['auc']:8.3f}", flush=True)
        print(f"{label:32} time sklearn / numpy (default): {times['sklearn (before)'] / times['numpy (default)']:.1f}x")
    graybox.GrayBoxAttack.fit = numpy_fit


if __name__ == "__main__":
    main()
