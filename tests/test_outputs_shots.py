"""Per-sample shot counts in an outputs file as a noise model (``ref_exact``, docs/outputs-format.md): exact
reference outputs are simulated at the target's shots per sample, seeded."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import one_line_error

from qaudit.leak.audit import AuditSettings
from qaudit.leak.recorded import load_outputs, run_outputs_audit, simulate_shots
from qaudit.sdk.testing import synthetic_outputs


@pytest.fixture(autouse=True)
def _no_project_config(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("QAUDIT_CONFIG", raising=False)


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def test_simulated_frequencies_are_unbiased_with_binomial_variance():
    """Mean p within 5 standard errors and variance p(1-p)/N within 5 % (its own s.e. is ~1 % here) for every
    class and shot count: a simulation that ignored the shots, or used one count for all, fails."""
    p = np.array([[0.7, 0.2, 0.1], [0.05, 0.05, 0.9], [1 / 3, 1 / 3, 1 / 3]])
    shots = np.array([10, 100, 1000])
    K = 20000
    freq = simulate_shots(np.broadcast_to(p, (K, 3, 3)), shots, np.random.default_rng(0))
    assert freq.shape == (K, 3, 3)
    np.testing.assert_allclose(freq.sum(axis=-1), 1.0, atol=1e-12)
    np.testing.assert_allclose(freq * shots[None, :, None], np.round(freq * shots[None, :, None]), atol=1e-9)
    var = p * (1 - p) / shots[:, None]
    assert np.all(np.abs(freq.mean(axis=0) - p) <= 5 * np.sqrt(var / K))
    assert np.all(np.abs(freq.var(axis=0) / var - 1) < 0.05)


def _file(tmp_path, shots=None, exact=1, seed=0):
    arrays = synthetic_outputs(n=120, K=6, classes=4, seed=seed, memorise=1.0)
    rng = np.random.default_rng(seed + 1)
    if shots is None:
        shots = rng.integers(20, 400, size=120)
    target = simulate_shots(_softmax(arrays.pop("logits")), shots, rng)  # the target measured on hardware
    path = tmp_path / "o.npz"
    np.savez(path, probs=target, shots=shots, ref_exact=np.int64(exact), **arrays)
    return path, shots, _softmax(arrays["ref_logits"])


def test_exact_reference_outputs_are_simulated_at_the_targets_shots(tmp_path, monkeypatch):
    path, shots, exact_refs = _file(tmp_path)
    recorded = load_outputs(path)
    assert recorded.ref_exact
    seen = {}
    import qaudit.leak.recorded as blackbox

    original = blackbox.subject

    def spy(rec, *args, **kwargs):
        seen["ref"] = rec.ref_probs
        return original(rec, *args, **kwargs)

    monkeypatch.setattr(blackbox, "subject", spy)
    report = run_outputs_audit(recorded, AuditSettings(seed=3), ["lira-offline"], location=str(path))
    ref = seen["ref"]
    counts = ref * shots[None, :, None]
    np.testing.assert_allclose(counts, np.round(counts), atol=1e-8)  # frequencies of shots[i] draws
    assert not np.allclose(ref, exact_refs)
    assert np.abs(ref - exact_refs).max() < 0.5
    assert report.summary["shot_noise"]["seed"] == [3, 1]
    assert "simulated" in report.summary["shot_noise"]["reference_outputs"]
    again = run_outputs_audit(load_outputs(path), AuditSettings(seed=3), ["lira-offline"], location=str(path))
    np.testing.assert_array_equal(seen["ref"], ref)  # seeded: the same simulation
    assert again.measurements == report.measurements
    run_outputs_audit(load_outputs(path), AuditSettings(seed=4), ["lira-offline"], location=str(path))
    assert not np.array_equal(seen["ref"], ref)  # another seed, another draw


def test_without_ref_exact_reference_outputs_are_used_as_recorded(tmp_path, run_qaudit):
    path, _, exact_refs = _file(tmp_path, exact=0)
    recorded = load_outputs(path)
    assert not recorded.ref_exact
    np.testing.assert_allclose(recorded.ref_probs, exact_refs)
    code, out, err = run_qaudit(["leak", "--outputs", str(path), "-a", "loss", "-f", "json"])
    assert code in (0, 1), err
    assert "shot_noise" not in json.loads(out)["summary"]


def test_cli_reports_the_simulation(tmp_path, run_qaudit):
    path, _, _ = _file(tmp_path)
    code, out, err = run_qaudit(["leak", "--outputs", str(path), "-a", "lira,loss", "-f", "json", "--seed", "5"])
    assert code in (0, 1), err
    summary = json.loads(out)["summary"]
    assert summary["shot_noise"]["seed"] == [5, 1] and summary["shots_per_sample"]["min"] >= 20


@pytest.mark.parametrize("change,needle", [
    (lambda a: a.pop("shots"), "'ref_exact' = 1 needs 'shots'"),
    (lambda a: (a.pop("ref_logits"), a.pop("ref_membership")), "needs 'shots'"),
    (lambda a: a.update(ref_exact=np.int64(2)), "must be a single 0 or 1"),
    (lambda a: a.update(ref_exact=np.array([1, 1])), "must be a single 0 or 1"),
    (lambda a: a.update(ref_exact=np.float64(1.0)), "must be a single 0 or 1"),
])
def test_bad_ref_exact_is_one_line_exit_2(tmp_path, run_qaudit, change, needle):
    arrays = synthetic_outputs(n=40, K=4, classes=3)
    arrays.update(shots=np.full(40, 100), ref_exact=np.int64(1))
    change(arrays)
    np.savez(tmp_path / "bad.npz", **arrays)
    code, out, err = run_qaudit(["leak", "--outputs", str(tmp_path / "bad.npz"), "-a", "loss"])
    assert code == 2
    assert needle in one_line_error(err)
