"""Property-based fuzzing of every input qaudit reads (issue 14).

Each case runs the CLI in-process on a mutated input and checks the contract of the error boundary:

* the exit code is 0 or 1 (a valid result) or 2 (bad input) -- never 3 (qaudit's own bug), never a
  traceback;
* exit 2 ends with exactly one ``error: ...`` line;
* inputs are never modified, no temporary file is left behind, and a failed run writes no output;
* every case finishes within Hypothesis's deadline (bounded time).

The default run tries several hundred cases (``FAST``); the ``slow`` job ten times as many.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import string
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qaudit.sdk.testing import QauditCliRunner, make_host, train_tiny_model


def fuzz_settings(kind: str, scale: int) -> settings:
    """Hypothesis settings of one fuzz family: FAST[kind] cases (times *scale*), deterministic, bounded time."""
    return settings(max_examples=FAST[kind] * scale, deadline=DEADLINE_MS, derandomize=True, database=None,
                    suppress_health_check=list(HealthCheck))


SCALES = [pytest.param(1, id="fast"), pytest.param(10, marks=pytest.mark.slow, id="slow")]
FAST = {"model": 100, "csv": 60, "index": 40, "thresholds": 40, "config": 30, "argv": 60}
DEADLINE_MS = 20_000


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A tiny trained model file, a runner, and a scratch folder (module-scoped: Hypothesis reuses them)."""
    from qaudit.files import model_file as model_io

    os.environ["QAUDIT_CACHE_DIR"] = "off"
    folder = tmp_path_factory.mktemp("fuzz")
    tiny = train_tiny_model()
    path = folder / "model.json"
    model_io.save(tiny.file, path, command="fuzz")
    return {"runner": QauditCliRunner(make_host()), "model": path, "doc": json.loads(path.read_text()),
            "folder": folder}


def _digest(paths: list[Path]) -> dict[str, str]:
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in paths if p.is_file()}


def check_contract(world, argv: list[str], inputs: list[Path], outputs: list[Path] = ()) -> int:
    """Run ``qaudit ARGV`` and assert the error-boundary contract; returns the exit code."""
    folder: Path = world["folder"]
    before_files = set(folder.rglob("*"))
    before = _digest(inputs)
    result = world["runner"].invoke([str(a) for a in argv])
    assert result.exit_code in (0, 1, 2), (argv, result.exit_code, result.stderr[-2000:])
    assert "Traceback" not in result.stderr, (argv, result.stderr[-2000:])
    if result.exit_code == 2:
        lines = [line for line in result.stderr.splitlines() if line.strip() and "━" not in line]
        assert lines and lines[-1].startswith("error: "), (argv, result.stderr[-2000:])
        assert len(lines[-1]) <= 600
        for out in outputs:
            assert not out.exists() or out in before_files, (argv, out)
    assert _digest(inputs) == before, ("an input was modified", argv)
    leftovers = [p for p in set(folder.rglob("*")) - before_files
                 if p.name.startswith(".") or p.suffix in (".tmp", ".part")]
    assert not leftovers, (argv, leftovers)
    for out in outputs:  # outputs of this case are removed so the next case starts clean
        if out.exists() and out not in before_files:
            out.unlink()
    return result.exit_code


# --------------------------------------------------------------------------- model files
def _paths(doc, prefix=()):
    """Every key path of a JSON document (lists: their first two items)."""
    out = [prefix] if prefix else []
    if isinstance(doc, dict):
        for key, value in doc.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(doc, list):
        for i, value in enumerate(doc[:2]):
            out += _paths(value, (*prefix, i))
    return out


JSON_VALUES = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30), st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0, -1, 1, 2**31, 2**63, 10**9, 1e308, -1e308, 1e-320, 0.5, 3.9]),
    st.text(max_size=12), st.booleans(), st.none(), st.lists(st.integers(-3, 3), max_size=3),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
    st.recursive(st.integers(), lambda inner: st.lists(inner, max_size=2), max_leaves=6))


def _mutate(doc, path, value, delete):
    doc = copy.deepcopy(doc)
    node = doc
    for key in path[:-1]:
        node = node[key]
    if delete and isinstance(node, dict):
        node.pop(path[-1], None)
    else:
        node[path[-1]] = value
    return doc


def model_cases(world):
    paths = _paths(world["doc"])
    return st.tuples(st.sampled_from(paths), JSON_VALUES, st.booleans(),
                     st.sampled_from(["evaluate", "leak", "unlearn"]))


def _run_model_case(world, case):
    path, value, delete, command = case
    bad = world["folder"] / "mutated.json"
    bad.write_text(json.dumps(_mutate(world["doc"], path, value, delete)))
    out = world["folder"] / "mutated.out.json"
    argv = {"evaluate": ["evaluate", bad, "--json"],
            "leak": ["leak", bad, "-a", "loss", "--folds", "2", "--bootstrap", "10", "-f", "json"],
            "unlearn": ["unlearn", bad, "--forget-class", "1", "-O", "steps=1", "--no-forget-gate", "-f", "json",
                        "--out", out]}[command]
    check_contract(world, argv, [bad], [out])


@pytest.mark.parametrize("scale", SCALES)
def test_mutated_model_files(world, scale):
    @fuzz_settings("model", scale)
    @given(case=model_cases(world))
    def run(case):
        _run_model_case(world, case)

    run()


# --------------------------------------------------------------------------- CSV data
CELL = st.one_of(st.integers(-5, 5).map(str), st.floats(-3, 3).map(lambda v: f"{v:.3f}"),
                 st.sampled_from(["", "nan", "inf", "-inf", "1e999", "abc", "9" * 40, " ", '"x,y"', "1,2"]))


@st.composite
def csv_texts(draw):
    n_cols = draw(st.integers(0, 5))
    header = draw(st.one_of(st.just([f"f{i}" for i in range(n_cols)] + ["label"]),
                            st.lists(st.text(alphabet=string.ascii_letters + ",\"", max_size=5), max_size=6)))
    rows = draw(st.lists(st.lists(CELL, min_size=n_cols + 1, max_size=n_cols + 1), max_size=12))
    if draw(st.booleans()):  # mostly valid rows with a few classes, so training also runs
        rows += [[f"{(i * 7 + j) % 5:.1f}" for j in range(n_cols)] + [str(i % 3)] for i in range(30)]
    return "\n".join([",".join(header)] + [",".join(r) for r in rows]) + draw(st.sampled_from(["", "\n", "\n\n"]))


@pytest.mark.parametrize("scale", SCALES)
def test_csv_datasets(world, scale):
    @fuzz_settings("csv", scale)
    @given(text=csv_texts())
    def run(text):
        csv = world["folder"] / "data.csv"
        csv.write_text(text)
        out = world["folder"] / "csv-model.json"
        code = check_contract(world, ["train", "--dataset", csv, "--qubits", "2", "--layers", "1", "--epochs", "1",
                                      "--n-train", "10", "--n-holdout", "10", "--out", out, "--force"], [csv], [out])
        assert code != 0 or not out.exists() or json.loads(out.read_text())["format"] == "qaudit.model"

    run()


# --------------------------------------------------------------------------- index files
INDEX_TEXT = st.one_of(
    st.lists(st.integers(-5, 2000), max_size=40).map(lambda v: " ".join(map(str, v))),
    st.lists(st.integers(0, 1796), min_size=4, max_size=40, unique=True).map(json.dumps),
    st.sampled_from(["", "[]", "{}", "[1.5, 2]", '["3", "4"]', "[true, false]", "1e30", str(10**30),
                     "[" * 200 + "]" * 200, "nan", "0 0 0 0"]),
    st.text(max_size=40))


@pytest.mark.parametrize("scale", SCALES)
def test_index_files(world, scale):
    @fuzz_settings("index", scale)
    @given(members=INDEX_TEXT, non_members=INDEX_TEXT)
    def run(members, non_members):
        m, n = world["folder"] / "m.txt", world["folder"] / "n.txt"
        m.write_text(members)
        n.write_text(non_members)
        check_contract(world, ["leak", world["model"], "-a", "loss", "--folds", "2", "--bootstrap", "10",
                               "--members", m, "--non-members", n, "-f", "json"], [m, n, world["model"]])

    run()


# --------------------------------------------------------------------------- thresholds and shot lists
THRESHOLD = st.one_of(
    st.lists(st.tuples(st.sampled_from(["auc", "tpr@1%fpr", "distinguishability", "epsilon", "loss:auc", "nope", "",
                                        "auc_low"]),
                       st.sampled_from(["0.5", "-1", "abc", "1e999", "nan", "", "0.6=0.7"])), max_size=3).map(
        lambda pairs: ",".join(f"{k}={v}" for k, v in pairs)),
    st.text(max_size=30))
SHOTS = st.one_of(st.lists(st.sampled_from(["16", "0", "-4", "exact", "inf", "abc", "", "99999999999", "8"]),
                           max_size=4).map(",".join), st.text(max_size=20))


@pytest.mark.parametrize("scale", SCALES)
def test_thresholds_and_shot_lists(world, scale):
    @fuzz_settings("thresholds", scale)
    @given(threshold=THRESHOLD, shots=SHOTS)
    def run(threshold, shots):
        check_contract(world, ["leak", world["model"], "-a", "loss", "--folds", "2", "--bootstrap", "10",
                               "--fail-above", threshold, "-f", "json"], [world["model"]])
        check_contract(world, ["shots", world["model"], "--shots", shots, "-R", "1", "-a", "loss", "--bootstrap",
                               "10", "-f", "json"], [world["model"]])

    run()


# --------------------------------------------------------------------------- config files
CONFIG = st.one_of(
    st.lists(st.tuples(st.sampled_from(["shots", "seed", "attacks", "format", "fail-above", "folds", "alpha",
                                        "model", "bootstrap", "jobs", "slice", "data-dir"]),
                       st.sampled_from(['16', '-1', '"abc"', '["loss"]', '[1, 2]', 'true', '1e999', '0.5',
                                        str(10**30), '"model.json"', '{}'])), max_size=4).map(
        lambda pairs: "[leak]\n" + "\n".join(f"{k} = {v}" for k, v in pairs) + "\n"),
    st.text(max_size=60), st.just("[a" + ".b" * 2000 + "]\n"))


@pytest.mark.parametrize("scale", SCALES)
def test_config_files(world, scale):
    @fuzz_settings("config", scale)
    @given(text=CONFIG)
    def run(text):
        config = world["folder"] / "qaudit.toml"
        config.write_text(text)
        previous = os.environ.get("QAUDIT_CONFIG")
        os.environ["QAUDIT_CONFIG"] = str(config)
        try:
            check_contract(world, ["leak", world["model"], "-a", "loss", "--folds", "2", "--bootstrap", "10",
                                   "-f", "json"], [config, world["model"]])
        finally:
            if previous is None:
                os.environ.pop("QAUDIT_CONFIG", None)
            else:
                os.environ["QAUDIT_CONFIG"] = previous
            config.unlink()

    run()


# --------------------------------------------------------------------------- argument combinations
VALUES = st.sampled_from(["0", "1", "-1", "2", "1.5", "abc", "", "99999999999999999999999", "1e9", "nan", "[x]",
                          "gray-box", "loss", "exact", "sampled", "json", "sisa", "ga", "0.7", "16,64"])
FLAGS = {
    "evaluate": ["--shots", "--seed", "--backend", "--data-dir"],
    "leak": ["--shots", "--seed", "--backend", "--attack", "--folds", "--alpha", "--delta", "--bootstrap",
             "--top-k", "--slice", "--forget-class", "--reference-models", "--jobs", "--attack-option", "--format"],
    "unlearn": ["--method", "--forget-class", "--seed", "--shots", "--backend", "--option", "--retain-fraction",
                "--forget-tolerance", "--format"],
    "shots": ["--shots", "--repeats", "--seed", "--attack", "--forget-class", "--bootstrap", "--backend"],
    "train": ["--qubits", "--layers", "--epochs", "--lr", "--batch-size", "--seed", "--n-train", "--n-holdout",
              "--option", "--model", "--dataset", "--exclude-class", "--noise"],
}


@st.composite
def argvs(draw, world):
    command = draw(st.sampled_from(sorted(FLAGS)))
    args = [command]
    if command != "train":
        args.append(str(world["model"]))
    for flag in draw(st.lists(st.sampled_from(FLAGS[command]), max_size=4)):
        args += [flag, draw(VALUES)]
    if command == "leak":
        args += ["--bootstrap", "10", "--folds", "2", "-a", "loss"] if "--attack" not in args else []
    if command in ("unlearn", "train"):
        args += ["--out", str(world["folder"] / "argv-out.json")]
    if command == "train":
        args += ["--force", "--n-train", "40", "--n-holdout", "20", "--epochs", "1", "--qubits", "2"]
    if command == "shots":
        args += ["-R", "1", "--bootstrap", "10"] if "--repeats" not in args else []
    if command == "unlearn":
        args += ["--no-forget-gate", "-O", "steps=1"]
    return args


@pytest.mark.parametrize("scale", SCALES)
def test_argument_combinations(world, scale):
    @fuzz_settings("argv", scale)
    @given(argv=argvs(world))
    def run(argv):
        check_contract(world, argv, [world["model"]], [world["folder"] / "argv-out.json"])

    run()


def test_the_default_run_tries_at_least_300_inputs():
    assert sum(FAST.values()) + FAST["thresholds"] >= 300  # thresholds cases run two commands each
