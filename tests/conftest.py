"""Shared fixtures for the qaudit test-suite (other test modules may add fixtures here)."""

from __future__ import annotations

import json
import os
import types
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from qaudit.sdk.testing import timeless  # noqa: F401 - tests import it from conftest

#: Shared test data: ``../shared`` beside the repository (or $QAUDIT_SHARED_DIR); tests that need it skip
#: with a reason where it is absent (a user's clone has none).
SHARED = Path(os.environ.get("QAUDIT_SHARED_DIR") or Path(__file__).resolve().parents[2] / "shared")
MNIST_DIR = SHARED / "data" / "mnist"
GOLDEN_DIR = SHARED / "data" / "golden"


def plugin_module(name: str, api: str | None = None, **hooks) -> types.ModuleType:
    """A plugin module built in a test: each keyword is a hook implementation (``register_attacks=...``);
    *api* sets ``QAUDIT_API``."""
    from qaudit import hookimpl

    module = types.ModuleType(name)
    for hook, fn in hooks.items():
        setattr(module, hook, hookimpl(fn))
    if api is not None:
        module.QAUDIT_API = api
    return module


@pytest.fixture
def rng() -> np.random.Generator:
    """A seeded generator (each test gets a fresh one)."""
    return np.random.default_rng(1234)


@pytest.fixture
def mnist_dir() -> Path:
    """The shared MNIST IDX folder; skips the test when it is absent."""
    if not (MNIST_DIR / "t10k-images-idx3-ubyte.gz").is_file():
        pytest.skip(f"shared MNIST data not found in {MNIST_DIR}")
    return MNIST_DIR


@pytest.fixture
def golden_basic() -> dict:
    """The golden reference of the basic QNN (PennyLane); skips when absent."""
    path = GOLDEN_DIR / "basic_qnn.json"
    if not path.is_file():
        pytest.skip(f"golden file {path} not found")
    return json.loads(path.read_text())


@pytest.fixture
def host() -> Iterator:
    """A fresh plugin host with the installed entry points, restored afterwards."""
    from qaudit.sdk import host as plugins

    previous = plugins._HOST
    h = plugins.Host().load_entry_points()
    plugins.set_host(h)
    try:
        yield h
    finally:
        plugins.set_host(previous)


@pytest.fixture(scope="session")
def digits_model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small basic QNN trained on digits, saved as model.json (6 qubits, 1 layer, 2 epochs)."""
    from qaudit.files import model_file as model_io
    from qaudit.files.data import load_dataset
    from qaudit.train.workflows import train_model

    ds = load_dataset("digits")
    mf = train_model("basic-qnn", ds, n_train=200, n_holdout=100, seed=3,
                     options={"qubits": 6, "layers": 1, "epochs": 2})
    path = tmp_path_factory.mktemp("model") / "model.json"
    model_io.save(mf, path, command="pytest")
    return path


@pytest.fixture
def run_qaudit(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture):
    """Run ``qaudit.cli.app:main`` in-process: ``run_qaudit([...]) -> (exit code, stdout, stderr)``.

    Exercises the real entry point (plugin loading, ``--disable-plugin``, QauditError ->
    one-line ``error:`` + exit 2); the process-wide plugin host and the commands plugins
    added to ``cli.app`` are restored afterwards (so each run registers them afresh).
    """
    import sys

    from qaudit.cli import app as cli
    from qaudit.sdk import host as plugins

    def run(args: list[str]) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "argv", ["qaudit", *args])
        previous = plugins._HOST
        saved = list(cli.app.registered_commands), list(cli.app.registered_groups)
        code = 0
        try:
            cli.main()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        finally:
            plugins.set_host(previous)
            cli.app.registered_commands[:], cli.app.registered_groups[:] = saved
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


def one_line_error(err: str) -> str:
    """Assert *err* is exactly one ``error: ...`` line without a traceback; return it."""
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected a one-line error, got: {err!r}"
    assert lines[0].startswith("error:"), lines[0]
    assert "Traceback" not in err
    return lines[0]


#: Integration tests that took 2 s or more each in the default run (2026-12-07, idle 2-core machine,
#: `pytest --durations=0`): marked ``heavy`` so the default run (the README's test command) stays near 3
#: CPU-minutes; CI runs them in a second step (`pytest -m heavy`, .ci/run). The statistical checks that keep
#: a claim honest (null audits rarely leak, a memorising model leaks, no anti-learning, U-LiRA's null
#: rate) stay in the default run. `tests/test_docs.py::test_heavy_tests_exist` checks every id names a test.
HEAVY = (
    "tests/test_resume.py::test_leak_resumes_with_the_finished_reference_models",
    "tests/test_resume.py::test_train_resumes_from_the_last_epoch_to_the_same_model",
    "tests/test_executors.py::test_lira_and_sisa_reports_are_identical_on_every_executor",
    "tests/test_ibm.py::test_dry_run_equals_the_submission_of_the_default_attacks",
    "tests/test_executors.py::test_an_unreachable_scheduler_is_one_line_within_ten_seconds",
    "tests/test_executors.py::test_an_unknown_executor_lists_the_installed_ones",
    "tests/test_reproduce_cache.py::test_serial_concurrent_and_warm_reports_are_identical",
    "tests/test_reproduce_cache.py::test_a_damaged_cache_entry_is_recomputed",
    "tests/test_interrupts.py::test_interrupt_stops_workers_within_two_seconds",
    "tests/test_interrupts.py::test_ctrl_c_while_workers_start_is_not_lost",
    "tests/test_fuzz.py::test_mutated_model_files[fast]",
    "tests/test_fuzz.py::test_argument_combinations[fast]",
    "tests/test_fuzz.py::test_thresholds_and_shot_lists[fast]",
    "tests/test_fuzz.py::test_csv_datasets[fast]",
    "tests/test_fuzz.py::test_index_files[fast]",
    "tests/test_fuzz.py::test_config_files[fast]",
    "tests/test_fuzz_surfaces.py::test_outputs_archives[fast]",
    "tests/test_ulira.py::test_noop_method_on_a_memorising_model_is_caught_and_gated",
    "tests/test_dp.py::test_dp_audits_stay_below_the_claim_and_memorisation_is_caught",
    "tests/test_dp.py::test_cli_audit_dp_exit_codes",
    "tests/test_cli_flags.py::test_audit_dp_o_writes_the_report",
    "tests/test_dp.py::test_an_accountant_that_overclaims_is_a_finding",
    "tests/test_import.py::test_imported_model_audits_with_reference_models_trained_by_qaudit",
    "tests/test_import_layers.py::test_lira_runs_on_a_batch_norm_model_and_says_what_the_recipe_left_out",
    "tests/test_import_layers.py::test_malformed_affine_op_in_a_model_file_is_one_line_exit_2",
    "tests/test_demo.py::test_demo_runs_every_stage_in_order",
    "tests/test_plugin_ux.py::test_broken_plugins_never_stop_other_commands",
    "tests/test_plugin_ux.py::test_disable_plugin_flag_and_environment",
    "tests/test_adam.py::test_import_records_the_adam_recipe_in_the_file_and_the_report",
    "tests/test_adam.py::test_adam_matches_torch",
    "tests/test_wide_circuits.py::test_a_20_qubit_qnn_evaluates_through_qsim_in_small_batches",
    "tests/test_reproduce.py::test_every_stage_runs_and_outputs_are_written",
    "tests/test_reproduce_device.py::test_the_stage_runs_on_a_noiseless_fake_device",
    "tests/test_reproduce.py::test_trend_verdicts",
    "tests/test_reproduce.py::test_shot_claims_never_use_exact_for_the_spread",
    "tests/test_paper_code.py::test_paper_protocol_pool_split_and_scored_set_match_mia_py",
    "tests/test_paper_scale.py::test_retrain_oracle_excludes_the_forget_class",
    "tests/test_cli_spine.py::test_demo_settings_reach_80_percent_on_digits",
    "tests/test_attacks.py::test_shot_aware_attacks_run",
    "tests/test_calibration.py::test_memorising_models_always_leak[1]",
    "tests/test_calibration.py::test_memorising_models_always_leak[2]",
    "tests/test_dask_lifecycle.py::test_an_interrupted_local_cluster_is_stopped_and_its_scratch_space_removed",
    # second pass: fixtures shared with the tests above moved their cost onto these
    "tests/test_reproduce_cache.py",
    "tests/test_attack_mlp.py::test_same_rule_as_sklearn_and_early_stopping_generalises_at_least_as_well",
    "tests/test_dp.py::test_every_format_states_claimed_and_audited",
    "tests/test_dp.py::test_exact_unlearning_leaves_no_audited_signal",
    "tests/test_dp.py::test_train_dp_records_the_claim_and_unlearning_still_works",
    "tests/test_executors.py::test_null_calibration_runs_are_identical_on_every_executor",
    "tests/test_wide_circuits.py::test_a_20_qubit_qnn_cannot_train_and_says_why",
    "tests/test_plugin_ux.py::test_builtins_are_disabled_like_any_plugin",
    "tests/test_blackbox.py::test_bad_outputs_files_are_one_line_errors_and_write_nothing",
    "tests/test_paper_scale.py::test_hqnn_trains_from_the_cli_on_a_subset",
    # third pass (issue 27's merges put the default run at 190 CPU-s): the slowest of --durations
    "tests/test_ibm.py::test_device_noise_agrees_with_an_independent_density_matrix_simulation",
    "tests/test_reproduce.py::test_claims_are_computed_from_the_results",
    "tests/test_executors.py::test_dask_without_the_extra_says_how_to_install_it",
    "tests/test_fuzz_surfaces.py::test_training_checkpoints",
    "tests/test_import.py::test_pennylane_angle_strongly_entangling_torch_module",
    # whole files whose optional frameworks (PennyLane, Torch, Qiskit, Aer, Dask) or paper-scale fixtures cost
    # more to import and set up than the rest of their file: CI's heavy step runs them (README, Development)
    "tests/test_ibm.py",
    "tests/test_import.py",
    "tests/test_import_layers.py",
    "tests/test_reproduce.py",
    "tests/test_executors.py",
    "tests/test_google.py",
    "tests/test_import_hostile.py",
    "tests/test_option_limits.py",
)


def pytest_collection_modifyitems(config, items):
    """Mark the :data:`HEAVY` tests ``heavy`` (an entry is a test id, an id without its parameters, or a file);
    a ``slow`` test stays only ``slow``."""
    for item in items:
        if item.get_closest_marker("slow") is not None:  # `pytest -m heavy` never runs a slow test
            continue
        if item.nodeid in HEAVY or item.nodeid.split("[")[0] in HEAVY or item.nodeid.split("::")[0] in HEAVY:
            item.add_marker(pytest.mark.heavy)
