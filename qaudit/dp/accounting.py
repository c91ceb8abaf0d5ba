"""The privacy accountant of DP-SGD: Google's ``dp-accounting`` (RDP), imported only here, lazily.

DP-SGD with Poisson sampling at rate q, noise multiplier sigma and T steps is the T-fold
self-composition of the Poisson-subsampled Gaussian mechanism (Abadi et al. 2016; Mironov 2017,
Mironov, Talwar & Zhang 2019 for the RDP of the sampled Gaussian). ``dp-accounting`` describes it
as ``SelfComposedDpEvent(PoissonSampledDpEvent(q, GaussianDpEvent(sigma)), T)`` and its
``RdpAccountant`` turns it into (epsilon, delta) under add/remove-one adjacency. A well-kept
library beats hand-written accounting: RDP conversion and calibration are easy to get subtly wrong.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Iterator
from typing import Any

from qaudit.sdk.errors import QauditError

#: What the model file records as the accountant.
ACCOUNTANT = "rdp"
#: RDP orders the accountant minimises over. Every order gives a valid (epsilon, delta) bound, so any set is
#: sound; this one keeps dp-accounting's integer orders 5..64 and its large ones but thins the fractional
#: orders below 5 (15 instead of 99). Those need a slowly converging series (``_compute_log_a_frac``), and
#: on the digits DP-SGD run they made the noise calibration cost twice the training itself. Measured
#: (q = 32/1078, 102 steps, delta 1e-5): noise multiplier 0.6333 vs 0.6336 at epsilon 8, 1.1162 vs 1.1099 at
#: epsilon 2 (0.6 % more noise), calibration 0.23 s vs 0.51 s.
ORDERS = tuple([1 + x / 4 for x in range(1, 16)] + list(range(5, 65)) + [128, 256, 512, 1024])
#: Noise multipliers the calibration of ``--dp epsilon=`` searches (the low end is
#: :data:`qaudit.sdk.limits.MIN_NOISE_MULTIPLIER`, the smallest ``--dp noise_multiplier=``).
CALIBRATION_BRACKET = (1e-3, 1e4)
#: The install hint every missing-extra error gives.
INSTALL_HINT = 'pip install "qaudit[dp]"'


def _library() -> Any:
    """The ``dp_accounting`` module, or a one-line error naming the extra to install."""
    try:
        import dp_accounting
    except ImportError as exc:
        raise QauditError(f"differential privacy needs the dp-accounting package: {INSTALL_HINT}") from exc
    return dp_accounting


def library_version() -> str:
    """``dp-accounting X.Y.Z`` (recorded next to the accountant)."""
    from importlib.metadata import PackageNotFoundError, version

    _library()
    try:
        return f"dp-accounting {version('dp-accounting')}"
    except PackageNotFoundError:  # pragma: no cover - imported but not installed as a distribution
        return "dp-accounting"


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence absl's per-order convergence warnings (orders that fail are excluded by the library)."""
    logger = logging.getLogger("absl")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _event(noise_multiplier: float, sampling_rate: float, steps: int) -> Any:
    dp = _library()
    return dp.SelfComposedDpEvent(dp.PoissonSampledDpEvent(sampling_rate, dp.GaussianDpEvent(noise_multiplier)),
                                  steps)


def epsilon(noise_multiplier: float, sampling_rate: float, steps: int, delta: float) -> float:
    """The epsilon RDP accounting gives for *steps* Poisson-sampled Gaussian steps at *delta*."""
    dp = _library()
    try:
        accountant = dp.rdp.RdpAccountant(list(ORDERS))
        accountant.compose(_event(noise_multiplier, sampling_rate, steps))
        with _quiet():
            value = float(accountant.get_epsilon(delta))
    except Exception as exc:  # the accounting library's own failures, named in one line
        raise QauditError(f"DP accounting failed for noise multiplier {noise_multiplier:g} ({steps} steps at "
                          f"sampling rate {sampling_rate:.4g}, delta {delta:g}): {type(exc).__name__}: "
                          f"{' '.join(str(exc).split())[:200]}") from None
    if not math.isfinite(value):
        raise QauditError(f"noise multiplier {noise_multiplier:g} gives no finite epsilon ({steps} steps at sampling "
                          f"rate {sampling_rate:.4g}, delta {delta:g}): add noise")
    return value


def noise_multiplier(target_epsilon: float, sampling_rate: float, steps: int, delta: float) -> float:
    """The smallest noise multiplier (to ``dp_accounting.calibrate_dp_mechanism``'s tolerance) whose
    accounted epsilon is at most *target_epsilon*; the result is re-checked against the target."""
    dp = _library()
    failed = QauditError(f"could not calibrate the noise to epsilon {target_epsilon:g} (delta {delta:g}, {steps} "
                         f"steps at sampling rate {sampling_rate:.4g}): no noise multiplier in "
                         f"[{CALIBRATION_BRACKET[0]:g}, {CALIBRATION_BRACKET[1]:g}] reaches it")
    try:
        with _quiet():
            sigma = float(dp.calibrate_dp_mechanism(
                lambda: dp.rdp.RdpAccountant(list(ORDERS)), lambda s: _event(s, sampling_rate, steps),
                target_epsilon, delta, dp.ExplicitBracketInterval(*CALIBRATION_BRACKET), tol=1e-4))
    except Exception:  # the library's root finder (no sign change in the bracket, ...)
        raise failed from None
    if not math.isfinite(sigma) or epsilon(sigma, sampling_rate, steps, delta) > target_epsilon * (1 + 1e-9):
        raise failed
    return sigma
