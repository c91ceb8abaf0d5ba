"""Caps in one place (issue 28, item 5): ``qaudit/sdk/limits.py`` is the single source; the docs' numbers, the
README's, ``qaudit backends`` and behaviour agree with it. The tests read the numbers out of the docs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from qaudit.sdk import limits

ROOT = Path(__file__).resolve().parent.parent
MODEL_FORMAT = ROOT / "docs" / "model-format.md"


def qubit_table() -> list[tuple[str, int, list[str]]]:
    """Rows of docs/model-format.md's "Qubit caps" table: (what, qubits, the limits constants named)."""
    text = MODEL_FORMAT.read_text()
    section = text[text.index("### Qubit caps"):]
    rows = []
    for line in section.splitlines()[1:]:
        if line.startswith("#"):
            break
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[1].isdigit():
            rows.append((cells[0], int(cells[1]), re.findall(r"qaudit\.sdk\.limits\.(\w+)", cells[2])))
    return rows


def test_the_docs_qubit_table_is_what_limits_says():
    rows = qubit_table()
    assert len(rows) >= 7
    for what, qubits, constants in rows:
        assert constants, what
        for name in constants:
            assert getattr(limits, name) == qubits, (what, name, getattr(limits, name), qubits)


def test_qaudit_backends_prints_the_documented_caps(run_qaudit):
    code, out, _ = run_qaudit(["backends", "--json"])
    assert code == 0
    printed = {b["name"]: (b["capabilities"] or {}).get("max_qubits") for b in json.loads(out)["backends"]}
    documented = {}
    for what, qubits, _ in qubit_table():
        for name in re.findall(r"`([a-z-]+)`", what):
            if name in printed:
                documented[name] = qubits
    builtin = {"exact", "sampled", "qsim", "cirq", "density-matrix", "noisy", "google"}
    assert builtin <= set(documented), builtin - set(documented)
    for name in builtin:
        assert printed[name] == documented[name], (name, printed[name], documented[name])


def test_the_model_file_limits_table_names_the_limits_values():
    text = MODEL_FORMAT.read_text()
    qubits = re.search(r"\| `config.qubits` \| at most (\d+) \(`qaudit.sdk.limits.MAX_MODEL_QUBITS`", text)
    classes = re.search(r"\| `config.n_classes` \| at most (\d+) \(`qaudit.sdk.limits.MAX_CLASSES`", text)
    assert qubits and int(qubits.group(1)) == limits.MAX_MODEL_QUBITS
    assert classes and int(classes.group(1)) == limits.MAX_CLASSES


def test_the_readme_engine_paths_are_the_limits():
    text = " ".join((ROOT / "README.md").read_text().split())
    match = re.search(r"batched state vector ≤ (\d+), qsim ≤ (\d+) for evaluation", text)
    assert match, "README no longer states the exact backend's paths"
    assert (int(match.group(1)), int(match.group(2))) == (limits.MAX_STATEVECTOR_QUBITS, limits.MAX_QNN_QUBITS)


def test_every_module_uses_the_one_constant():
    from qaudit_datasets import sources

    from qaudit.files import data
    from qaudit.files import model_file as model

    assert data.MAX_CLASSES is limits.MAX_CLASSES and model.MAX_CLASSES is limits.MAX_CLASSES
    assert model.MAX_MODEL_QUBITS == limits.MAX_MODEL_QUBITS == limits.MAX_STATEVECTOR_QUBITS
    assert sources.MAX_NPZ_BYTES == limits.MAX_DATASET_NPZ_BYTES
    assert limits.MAX_NPZ_BYTES == limits.MAX_OUTPUTS_BYTES
    assert max(limits.MAX_NPZ_BYTES, limits.MAX_DATASET_NPZ_BYTES) < limits.MAX_READER_RSS_BYTES


@pytest.mark.parametrize("qubits", [limits.MAX_MODEL_QUBITS + 1, limits.MAX_QNN_QUBITS])
def test_nothing_is_trained_that_qaudit_would_refuse_to_read(qubits, tmp_path, run_qaudit):
    """``train --qubits 17 --epochs 0`` used to write a model ``evaluate`` refused; now refused first."""
    from conftest import one_line_error

    out = tmp_path / "wide.json"
    code, _, err = run_qaudit(["train", "--qubits", str(qubits), "--epochs", "0", "--n-train", "40",
                               "--n-holdout", "20", "--out", str(out)])
    assert code == 2 and not out.exists()
    assert f"model files hold at most {limits.MAX_MODEL_QUBITS} qubits" in one_line_error(err)


def test_the_largest_trainable_model_round_trips(tmp_path, run_qaudit):
    out = tmp_path / "m.json"
    code, _, err = run_qaudit(["train", "--qubits", str(limits.MAX_MODEL_QUBITS), "--layers", "1", "--epochs", "0",
                               "--n-train", "20", "--n-holdout", "10", "--out", str(out)])
    assert code == 0, err
    from qaudit.files import model_file as model_io

    assert model_io.load(out).model.n_qubits == limits.MAX_MODEL_QUBITS


def test_a_model_holding_nan_is_never_written(tmp_path):
    import numpy as np

    from qaudit.files import model_file as model_io
    from qaudit.sdk.errors import QauditError
    from qaudit.sdk.testing import train_tiny_model

    mf = train_tiny_model().file
    name = next(iter(mf.model.weights))
    mf.model.weights[name] = np.full_like(mf.model.weights[name], np.inf)
    out = tmp_path / "diverged.json"
    with pytest.raises(QauditError, match="NaN or infinite"):
        model_io.save(mf, out)
    assert not out.exists() and not list(tmp_path.iterdir())
