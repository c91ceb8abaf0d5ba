"""MNIST at the paper's scale: HQNN and basic QNN training, and the retrain oracle (--exclude-class).

Fast tests use small subsets; the full paper configurations (1000 members, 500
holdout, paper epochs) are marked ``slow`` (run with ``pytest -m slow``).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import SHARED

MNIST_DIR = SHARED / "data" / "mnist"


@pytest.fixture(scope="module")
def mnist_dir() -> str:
    if not (MNIST_DIR / "t10k-images-idx3-ubyte.gz").is_file():
        pytest.skip(f"MNIST IDX files not found in {MNIST_DIR}")
    return str(MNIST_DIR)


def train(cli_runner, tmp_path: Path, name: str, *args: str) -> dict:
    out = tmp_path / f"{name}.json"
    result = cli_runner.invoke(["train", *args, "--out", str(out)])
    assert result.exit_code == 0, result.stderr
    return json.loads(out.read_text())


def evaluate(cli_runner, path: Path, data_dir: str) -> dict:
    result = cli_runner.invoke(["evaluate", str(path), "--json", "--data-dir", data_dir])
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)["splits"]


def labels(data_dir: str) -> np.ndarray:
    from qaudit_datasets.sources import MNIST_FILES, read_idx

    return read_idx(Path(data_dir) / (MNIST_FILES["labels"][0] + ".gz")).astype(np.int64)


def test_hqnn_trains_from_the_cli_on_a_subset(cli_runner, tmp_path, mnist_dir):
    doc = train(cli_runner, tmp_path, "hqnn", "--model", "hqnn", "--dataset", "mnist", "--data-dir", mnist_dir,
                "--n-train", "200", "--n-holdout", "100", "--epochs", "2")
    assert doc["kind"] == "hqnn" and doc["config"]["layers"] == 1 and doc["config"]["batch_size"] == 8
    assert doc["config"]["lr"] == 0.1 and doc["config"]["momentum"] == 0.9 and doc["config"]["nesterov"] is False
    assert [s["op"] for s in doc["preprocessing"]] == ["scale", "normalize"]
    splits = evaluate(cli_runner, tmp_path / "hqnn.json", mnist_dir)
    assert splits["holdout"]["accuracy"] > 0.5  # chance is 0.1; ~0.75 after 2 epochs on 200 images


def test_retrain_oracle_excludes_the_forget_class(cli_runner, tmp_path, mnist_dir):
    common = ["--model", "basic-qnn", "--dataset", "mnist", "--data-dir", mnist_dir, "--n-train", "300",
              "--n-holdout", "100", "--epochs", "1", "--qubits", "4", "--layers", "1", "--seed", "5"]
    original = train(cli_runner, tmp_path, "original", *common)
    oracle = train(cli_runner, tmp_path, "oracle", *common, "--exclude-class", "4")
    y = labels(mnist_dir)
    members, holdout = np.array(original["data"]["members"]), np.array(original["data"]["holdout"])
    forget = members[y[members] == 4]
    assert len(forget) > 0
    assert not np.any(y[oracle["data"]["members"]] == 4)
    assert sorted(oracle["data"]["members"]) == sorted(np.setdiff1d(members, forget).tolist())
    assert oracle["data"]["holdout"] == holdout.tolist()  # same non-members as the original
    assert oracle["data"]["excluded"] == {"classes": [4], "indices": sorted(forget.tolist())}
    assert original["data"]["excluded"] == {}
    # The oracle never saw a 4: on the holdout's 4s it is worse than the original.
    splits = evaluate(cli_runner, tmp_path / "oracle.json", mnist_dir)
    assert splits["members"]["per_class"].get("4") is None
    assert splits["holdout"]["per_class"]["4"]["n"] > 0


def test_retrain_oracle_with_an_index_file(cli_runner, tmp_path, mnist_dir):
    common = ["--model", "hqnn", "--dataset", "mnist", "--data-dir", mnist_dir, "--n-train", "60",
              "--n-holdout", "30", "--epochs", "1", "--seed", "2"]
    original = train(cli_runner, tmp_path, "original", *common)
    drop = original["data"]["members"][:7]
    index_file = tmp_path / "forget.txt"
    index_file.write_text("\n".join(str(i) for i in drop))
    oracle = train(cli_runner, tmp_path, "oracle", *common, "--exclude-indices", str(index_file))
    assert not set(drop) & set(oracle["data"]["members"])
    assert len(oracle["data"]["members"]) == 53
    assert oracle["data"]["excluded"]["indices"] == sorted(drop)
    assert oracle["data"]["holdout"] == original["data"]["holdout"]


def test_exclude_unknown_class_is_an_error(cli_runner, tmp_path, mnist_dir):
    result = cli_runner.invoke(["train", "--model", "hqnn", "--dataset", "mnist", "--data-dir", mnist_dir,
                                "--n-train", "50", "--n-holdout", "20", "--exclude-class", "12",
                                "--out", str(tmp_path / "m.json")])
    assert result.exit_code == 2 and "do not exist" in result.stderr


# ----------------------------------------------------------------------------- paper scale (slow)


def paper_run(kind: str, mnist_dir: str, **options):
    from qaudit.files.data import load_dataset
    from qaudit.sdk.testing import make_host, using_host
    from qaudit.train.workflows import evaluate_model, train_model

    with using_host(make_host()):
        dataset = load_dataset("mnist", {"data_dir": mnist_dir})
        start = time.perf_counter()
        mf = train_model(kind, dataset, n_train=1000, n_holdout=500, seed=0, options=options)
        seconds = time.perf_counter() - start
        return seconds, evaluate_model(mf, dataset).splits["holdout"]["accuracy"]


@pytest.mark.slow
def test_hqnn_paper_config_floor(mnist_dir):
    """Floor: 1 quantum layer, 25 epochs, batch 8 on 1000 images in <= 90 s, >= 85 % holdout accuracy."""
    seconds, accuracy = paper_run("hqnn", mnist_dir)
    assert accuracy >= 0.85, accuracy
    assert seconds <= 90, seconds


@pytest.mark.slow
def test_basic_qnn_paper_config_floor(mnist_dir):
    """Floor: 8 qubits, 5 layers, PCA-256, 10 epochs on 1000 images in <= 30 s (accuracy reported only)."""
    seconds, accuracy = paper_run("basic-qnn", mnist_dir)
    assert accuracy > 0.2, accuracy  # well above chance; the paper reports ~57-81 %
    assert seconds <= 30, seconds
