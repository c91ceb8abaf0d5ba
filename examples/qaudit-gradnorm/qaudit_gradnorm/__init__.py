"""qaudit-gradnorm: a gradient-norm membership attack and a CSV reporter for qaudit.

Kept light: numpy and csv are imported inside methods, so ``qaudit --help`` stays fast.
"""

from __future__ import annotations

from typing import Any

from qaudit.sdk import hookimpl

QAUDIT_API = "2"


class GradNormAttack:
    """Training pulls members' loss gradients towards zero: score = -||d loss(x, y) / d weights||_2."""

    name = "grad-norm"
    description = "gradient norm (example plugin, white-box): smaller per-sample loss gradient = member"

    def fit(self, context: Any) -> GradNormAttack:
        """Nothing to calibrate: the core's ROC sweep chooses the threshold."""
        return self

    def score(self, context: Any, X: Any, y: Any) -> Any:
        """One score per sample: minus the L2 norm of its loss gradient over all weights."""
        import numpy as np

        grads = context.model.per_sample_grads(X, y)
        return -np.sqrt(sum(np.sum(g.reshape(len(X), -1) ** 2, axis=1) for g in grads.values()))


class CSVReporter:
    """A report's measurements as long-format CSV: ``subject,metric,value``."""

    name = "csv"
    suffix = ".csv"

    def render(self, result: Any, stream: Any) -> None:
        """One row per (subject, metric), sorted; missing or non-finite values are left empty."""
        import csv
        import math

        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow(["subject", "metric", "value"])
        for subject, values in sorted(result.measurements.items()):
            for metric, value in sorted(values.items()):
                ok = isinstance(value, (int, float)) and math.isfinite(value)
                writer.writerow([subject, metric, repr(float(value)) if ok else ""])


@hookimpl
def register_attacks(register):
    register(GradNormAttack)


@hookimpl
def register_reporters(register):
    register(CSVReporter)
