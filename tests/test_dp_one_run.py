"""The one-run audit bound (Steinke, Nasr & Jagielski, NeurIPS 2023, arXiv 2305.08846) and canaries.

Needs no optional extra: the bound is scipy only.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from qaudit.dp import one_run
from qaudit.dp.canaries import make_canaries
from qaudit.sdk.errors import QauditError

#: (m canaries, r guesses, v correct, delta, p = 1 - confidence) -> epsilon lower bound, as computed by the
#: paper's reference procedure (Appendix D, ``get_eps_audit(m, r, v, delta, p)``: Theorem 3.1's p-value
#: with its delta term, bisected). The first case is the reference code's own example call
#: ``get_eps_audit(1000, 600, 600, 1e-5, 0.05)``; the others vary r, v, delta and m. Values were computed
#: with a plain transcription of Appendix D (30 bisection steps from the integer bracket) when this test
#: was written; qaudit's implementation is independent (vectorised alpha, doubling bracket, 40 steps).
REFERENCE = [
    ((1000, 600, 600, 1e-5, 0.05), 5.270399462431669),
    ((1000, 100, 100, 0.0, 0.05), 3.492965430021286),
    ((1000, 100, 100, 1e-5, 0.05), 3.4653763473033905),
    ((1000, 200, 180, 1e-5, 0.05), 1.7962850704789162),
    ((10000, 1000, 900, 1e-5, 0.05), 2.015194483101368),
    ((100, 20, 16, 1e-5, 0.05), 0.3999085398390889),
    ((1000, 500, 400, 1e-5, 0.05), 1.1979686450213194),
    ((1000, 100, 50, 1e-5, 0.05), 0.0),
]


@pytest.mark.parametrize("case, expected", REFERENCE)
def test_bound_reproduces_the_papers_reference_procedure(case, expected):
    assert one_run.epsilon_lower_bound(*case) == pytest.approx(expected, abs=1e-3)


@pytest.mark.parametrize("r", [10, 50, 100, 400])
def test_all_correct_without_delta_has_a_closed_form(r):
    """delta = 0, v = r: P[Bin(r, q) >= r] = q^r = p, so eps = logit(p^(1/r)) exactly."""
    q = 0.05 ** (1.0 / r)
    assert one_run.epsilon_lower_bound(1000, r, r, 0.0, 0.05) == pytest.approx(math.log(q / (1 - q)), abs=1e-6)


def test_p_value_grows_with_epsilon_and_delta():
    eps = [one_run.p_value(500, 100, 80, e, 1e-5) for e in (0.0, 0.5, 1.0, 2.0)]
    assert eps == sorted(eps)
    assert one_run.p_value(500, 100, 80, 1.0, 1e-3) > one_run.p_value(500, 100, 80, 1.0, 0.0)


def test_bound_holds_for_randomised_response_at_its_level():
    """The theorem's promise, simulated: canaries each guessed right with probability e^eps/(1+e^eps)
    (eps-DP randomised response, the extremal case). The 95 % bound may exceed eps in at most 5 % of
    audits; we allow the binomial 99.9 % slack on 300 audits. A bound computed at the wrong tail, or
    without the binomial tail at all, fails this."""
    rng = np.random.default_rng(5)
    eps, m, r = 1.0, 400, 200
    q = math.exp(eps) / (1 + math.exp(eps))
    over = sum(one_run.epsilon_lower_bound(m, r, int(rng.binomial(r, q)), 0.0, 0.05) > eps for _ in range(300))
    assert over <= 26, over  # binom(300, 0.05).ppf(0.999) = 26
    # and it is not vacuous: the typical bound is well above 0
    assert one_run.epsilon_lower_bound(m, r, int(round(q * r)), 0.0, 0.05) > 0.5


def test_correct_guesses_top_and_bottom():
    scores = np.array([0.9, 0.1, 0.8, 0.2, 0.5, 0.6])
    included = np.array([True, False, False, False, True, True])
    # top 2: 0.9 (in, right), 0.8 (out, wrong); bottom 2: 0.1 (out, right), 0.2 (out, right)
    assert one_run.correct_guesses(scores, included, 2) == 3
    with pytest.raises(QauditError):
        one_run.correct_guesses(scores, included, 4)


@pytest.mark.parametrize("args", [(10, 20, 5, 0.0), (10, 5, 6, 0.0), (10, 5, 3, 1.0)])
def test_bound_rejects_impossible_counts(args):
    with pytest.raises(QauditError):
        one_run.epsilon_lower_bound(*args)


def test_canaries_are_seeded_mislabelled_and_half_included():
    from qaudit.files.data import load_dataset

    ds = load_dataset("digits")
    a = make_canaries(ds.X, ds.y, 400, "mislabel", 3, ds.n_classes)
    b = make_canaries(ds.X, ds.y, 400, "mislabel", 3, ds.n_classes)
    assert np.array_equal(a.ids, b.ids) and np.array_equal(a.included, b.included)
    assert np.all(a.y != ds.y[a.ids])  # every label is wrong
    assert 150 < a.included.sum() < 250  # Bernoulli(1/2): 400 draws, far inside 5 sigma
    ood = make_canaries(ds.X, ds.y, 50, "ood", 3, ds.n_classes)
    assert ood.X.shape == (50, ds.X.shape[1]) and not np.allclose(ood.X, ds.X[ood.ids])
    with pytest.raises(QauditError, match="more than the data allows"):
        make_canaries(ds.X, ds.y, len(ds.y), "mislabel", 0, ds.n_classes)
