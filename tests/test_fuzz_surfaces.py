"""Property-based fuzzing of the surfaces added since round 2 (issue 28): outputs archives (``leak --outputs``),
``--resume`` checkpoints (training epochs, LiRA reference models), the oracle cache, ``--dp`` specs and
huge integers in ``-O``/``-A`` values.

Every generated input runs ``qaudit`` in a *worker process* (serial executor) that measures it: the
worker resets its peak resident memory before each input (``/proc/self/clear_refs``) and reads it after
(``VmHWM``), and stops an input after :data:`TIMEOUT` seconds. The contract, checked per input:

* exit 0, 1 or 2 -- never 3 (qaudit's own bug), never a traceback, never a timeout;
* exit 2 is exactly one ``error: ...`` line (progress-bar lines aside);
* inputs are never modified; on exit 2 no output file and no temporary file is left;
* peak RSS of the process at most ``qaudit.sdk.limits.MAX_READER_RSS_BYTES`` (1 GB), each input within 30 s;
* a tampered cache entry never changes a report silently: a report that differs from the untampered run's
  comes with a ``warning:`` line.

The default run tries ``FAST`` inputs per surface (about 50 in all); the ``slow`` job ``SLOW`` (1,700).

Measured (slow job, ``pytest -m slow -s tests/test_fuzz_surfaces.py``, 2026-12-07, 2-core machine shared with
other sessions, load average 17-25): 1,701 inputs, 0 exit 3, 0 tracebacks, 0 inputs modified, 0 files left on
exit 2, peak RSS 262 MB (worker process, interpreter included), slowest input 3.23 s; per surface in
``benchmarks/README.md`` ("Hostile inputs, round 3").
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_fuzz import _paths
from test_hostile_surfaces import BOMBS, DIGITS, MALFORMED, PROGRESS, npy, npy_header, valid_outputs, zip_bytes

from qaudit.files.checkpoints import value_digest
from qaudit.sdk import limits

pytestmark = pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux /proc")

TIMEOUT = 30
FAST = {"npz": 24, "checkpoint": 8, "reference": 3, "oracle": 3, "dp": 6, "bigint": 8}
SLOW = {"npz": 700, "checkpoint": 300, "reference": 150, "oracle": 120, "dp": 180, "bigint": 250}
SCALES = [pytest.param(FAST, id="fast"), pytest.param(SLOW, marks=pytest.mark.slow, id="slow")]
#: Per-input measurements of this session, by surface (the module's `summary` fixture prints them).
MEASURED: dict[str, list[dict]] = {}

WORKER = r'''
import io, json, os, signal, sys, time
from qaudit.sdk.testing import QauditCliRunner, make_host

class Timeout(Exception):
    pass

def alarm(*_):
    raise Timeout()

signal.signal(signal.SIGALRM, alarm)
runner = QauditCliRunner(make_host())
out = sys.stdout
sys.stdout = io.StringIO()
for line in sys.stdin:
    case = json.loads(line)
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    start = time.perf_counter()
    signal.alarm(case["timeout"])
    try:
        res = runner.invoke(case["argv"], env=case["env"])
        code, stdout, stderr = res.exit_code, res.stdout, res.stderr
    except Timeout:
        code, stdout, stderr = "timeout", "", ""
    finally:
        signal.alarm(0)
    seconds = time.perf_counter() - start
    status = open("/proc/self/status").read()
    rss = int(status.split("VmHWM:")[1].split()[0]) * 1024
    out.write(json.dumps({"code": code, "stdout": stdout[-20000:], "stderr": stderr[-4000:], "rss": rss,
                          "seconds": seconds}) + "\n")
    out.flush()
'''


class Worker:
    """One serial worker process running ``qaudit`` cases (JSON lines in, measurements out)."""

    def __init__(self):
        env = {**os.environ, "QAUDIT_CACHE_DIR": "off", "OMP_NUM_THREADS": "1"}
        self.proc = subprocess.Popen([sys.executable, "-c", WORKER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, env=env)

    def run(self, argv: list, env: dict | None = None) -> dict:
        case = {"argv": [str(a) for a in argv], "env": env or {}, "timeout": TIMEOUT}
        self.proc.stdin.write(json.dumps(case) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        assert line, f"the worker died on {argv}"
        return json.loads(line)

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


@pytest.fixture(scope="module")
def worker():
    w = Worker()
    yield w
    w.close()


@pytest.fixture(scope="module")
def world(tmp_path_factory, worker):
    """A tiny model, and genuine checkpoints / oracle entries written by qaudit itself (to mutate)."""
    from qaudit.files import model_file as model_io
    from qaudit.sdk.testing import train_tiny_model

    folder = tmp_path_factory.mktemp("fuzz-surfaces")
    model = folder / "model.json"
    model_io.save(train_tiny_model().file, model, command="fuzz")
    world = {"folder": folder, "model": model}
    # a training checkpoint and LiRA reference checkpoints, kept by running with checkpoint removal disabled
    keep = folder / "keep"
    for name, argv in (("training", TRAIN + ["--out", folder / "t.json"]),
                       ("reference-models", ["leak", model, *LIRA])):
        result = _run_keeping_checkpoints(argv, keep)
        assert result.exit_code in (0, 1), result.stderr
        world[name] = {p.name: p.read_text() for p in (keep / "checkpoints" / name).glob("*.json")}
    # the oracle cache entry of an unlearning run, and that run's report (the untampered reference)
    oracle_cache = folder / "oracle-cache"
    first = worker.run(["unlearn", model, *UNLEARN, "--out", folder / "u.json"],
                       {"QAUDIT_CACHE_DIR": str(oracle_cache)})
    assert first["code"] in (0, 1), first["stderr"]
    entry = sorted((oracle_cache / "oracles").glob("*.json"))[0]  # one of the reference's retrains
    world["oracle"] = (entry.name, entry.read_text(), _report(first["stdout"]))
    return world


TRAIN = ["train", "--qubits", "2", "--layers", "1", "--epochs", "2", "--n-train", "30", "--n-holdout", "10"]
LIRA = ["-a", "lira", "-K", "2", "--executor", "serial", "--bootstrap", "10", "--folds", "2", "-f", "json"]
UNLEARN = ["--method", "ga", "-O", "steps=2", "--forget-class", "1", "--no-forget-gate", "-f", "json",
           "--executor", "serial"]


def _run_keeping_checkpoints(argv: list, cache: Path):
    from qaudit.files.checkpoints import Checkpoints
    from qaudit.sdk.testing import QauditCliRunner, make_host

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Checkpoints, "discard", lambda self: None)
        return QauditCliRunner(make_host()).invoke([str(a) for a in argv], env={"QAUDIT_CACHE_DIR": str(cache)})


def _report(stdout: str) -> object:
    from qaudit.sdk.testing import timeless

    return timeless(json.loads(stdout), drop=("command", "file", "model", "created"))


def _digest(paths: list[Path]) -> dict[str, str]:
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in paths if p.is_file()}


def check_contract(worker: Worker, surface: str, folder: Path, argv: list, inputs: list[Path], outputs: list[Path],
                   env: dict | None = None) -> dict:
    """Run one case in the worker and assert the contract (module docstring); record its measurements."""
    before_files = {p for p in folder.rglob("*") if p.is_file()}
    before = _digest(inputs)
    result = worker.run(argv, env)
    MEASURED.setdefault(surface, []).append({"code": result["code"], "rss": result["rss"],
                                             "seconds": result["seconds"]})
    where = (surface, [str(a)[:80] for a in argv], result["stderr"][-1500:])
    assert result["code"] in (0, 1, 2), where
    assert "Traceback" not in result["stderr"], where
    assert result["rss"] <= limits.MAX_READER_RSS_BYTES, (result["rss"], where)
    assert result["seconds"] <= TIMEOUT, where
    assert _digest(inputs) == before, ("an input was modified", where)
    if result["code"] == 2:
        lines = [ln for ln in result["stderr"].splitlines() if ln.strip() and not PROGRESS.match(ln)]
        assert len(lines) == 1 and lines[0].startswith("error: ") and len(lines[0]) <= 600, where
        assert not any(o.exists() and o not in before_files for o in outputs), ("output left on exit 2", where)
        left = {p for p in folder.rglob("*") if p.is_file()} - before_files
        assert not [p for p in left if p.name.startswith(".") or p.suffix in (".tmp", ".part")], (left, where)
    for out in outputs:
        if out.exists() and out not in before_files:
            out.unlink()
    return result


def fuzz_settings(n: int) -> settings:
    return settings(max_examples=n, deadline=None, derandomize=True, database=None,
                    suppress_health_check=list(HealthCheck))


# --------------------------------------------------------------------------- outputs archives
def _patch_sizes(data: bytes, size: int) -> bytes:
    out = bytearray(data)
    for signature, at in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        i = out.find(signature)
        if i >= 0 and i + at + 4 <= len(out):
            struct.pack_into("<I", out, i + at, size % 2**32)
    return bytes(out)


DTYPES = ["<f2", "<f4", "<f8", ">f8", "<f16", "|b1", "|i1", "|u1", "<i8", "<u8", "<c16", "|O", "<U3", "|V8",
          "<M8[s]", "('<f8', (2,))", "[('a', '<f8')]", "<f3", "xyz", ""]
SHAPES = st.one_of(st.lists(st.integers(-2, 40), max_size=4).map(tuple),
                   st.sampled_from([(10**12,), (2**62, 2**62), (0,), (), (1,) * 40, (3, 0, 10**9)]))


@st.composite
def archives(draw):
    """Valid archives, each mutated one to three ways (bytes, headers, declared sizes, members)."""
    kind = draw(st.sampled_from(["mutate", "header", "sizes", "members", "corpus"]))
    if kind == "corpus":
        return draw(st.sampled_from(sorted({**MALFORMED, **BOMBS}.items())))[1]
    members = valid_outputs(n=draw(st.integers(8, 40)), classes=draw(st.integers(2, 5)), seed=draw(st.integers(0, 9)))
    if kind == "header":
        name = draw(st.sampled_from(sorted(members)))
        dtype, shape = draw(st.sampled_from(DTYPES)), draw(SHAPES)
        payload = draw(st.sampled_from([b"", b"\0" * 64, members[name][128:]]))
        members[name] = npy_header(dtype, shape) + payload
    if kind == "members":
        extra = draw(st.dictionaries(st.sampled_from(["probs.npy", "shots.npy", "ref_probs.npy", "ref_membership.npy",
                                                      "x.npy", "../evil.npy", "labels.npy", "dir/", "a" * 300]),
                                     st.sampled_from([b"", npy(np.zeros(3)), npy(np.ones((2, 8, 3))),
                                                      npy(np.array([np.nan, 1.0])), b"junk"]), max_size=3))
        members.update(extra)
        for name in draw(st.lists(st.sampled_from(sorted(members)), max_size=2)):
            members.pop(name, None)
    method = draw(st.sampled_from([zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED]))
    data = zip_bytes(members, method)
    if kind == "sizes":
        data = _patch_sizes(data, draw(st.sampled_from([0, 1, 2**31, 2**32 - 1, limits.MAX_NPZ_BYTES + 1,
                                                        len(data) * 1000])))
    for _ in range(draw(st.integers(0 if kind != "mutate" else 1, 3))):
        op = draw(st.sampled_from(["flip", "truncate", "insert", "delete"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "flip" and data:
            data = data[:at] + bytes([data[at] ^ draw(st.integers(1, 255))]) + data[at + 1:]
        elif op == "truncate":
            data = data[:at]
        elif op == "insert":
            data = data[:at] + draw(st.binary(min_size=1, max_size=8)) + data[at:]
        else:
            data = data[:at] + data[at + draw(st.integers(1, 16)):]
    return data


@pytest.mark.parametrize("scale", SCALES)
def test_outputs_archives(world, worker, scale):
    folder = world["folder"]

    @fuzz_settings(scale["npz"])
    @given(data=archives())
    def run(data):
        path, report = folder / "outputs.npz", folder / "report.json"
        path.write_bytes(data)
        check_contract(worker, "npz", folder, ["leak", "--outputs", path, "-f", "json", "--bootstrap", "10",
                                               "--folds", "2", "--output", report], [path], [report])

    run()


@pytest.mark.slow
def test_the_issue_float16_bomb_fails_fast_in_little_memory(world, worker):
    """The issue's case itself: a ~1 MB archive whose float16 ``logits`` inflate to 1000 MiB (it reached
    5.9 GB and was still running). Built for real (deflated zeros), not with a patched size."""
    path = world["folder"] / "bomb16.npz"
    rows = (1000 << 20) // 2 // 10
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        with archive.open("logits.npy", "w", force_zip64=True) as handle:
            handle.write(npy_header("<f2", (rows, 10)))
            zeros = bytes(1 << 24)
            for _ in range(rows * 20 // len(zeros)):
                handle.write(zeros)
            handle.write(bytes(rows * 20 % len(zeros)))
    assert path.stat().st_size < 2_000_000
    result = check_contract(worker, "npz", world["folder"], ["leak", "--outputs", path, "-f", "json"], [path], [])
    assert result["code"] == 2 and "at most" in result["stderr"]


# --------------------------------------------------------------------------- checkpoints
JSON_VALUES = st.one_of(
    st.sampled_from([[], {}, "x", -1, 2**200, 0, None, True, 1e308, -0.0]),
    st.integers(-(2**70), 2**210), st.floats(allow_nan=False), st.text(max_size=8), st.booleans(),
    st.lists(st.integers(-3, 3), max_size=3), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))


@st.composite
def mutated_documents(draw, text: str):
    """A genuine checkpoint document with one to three values replaced or deleted; the envelope's hash
    recomputed half of the time (a consistent forgery) -- or not JSON / not an envelope at all."""
    kind = draw(st.sampled_from(["mutate", "mutate", "mutate", "raw", "value"]))
    if kind == "raw":
        return draw(st.one_of(st.just(""), st.text(max_size=40), st.sampled_from(
            ["[]", "{}", '"checkpoint"', "[" * 500 + "]" * 500, "null", "1e999", DIGITS, '{"schema": 1}'])))
    doc = json.loads(text)
    if kind == "value":
        doc["value"] = draw(JSON_VALUES)
    else:
        paths = _paths(doc["value"])
        for _ in range(draw(st.integers(1, 3))):
            path = draw(st.sampled_from(paths))
            node = doc["value"]
            try:
                for key in path[:-1]:
                    node = node[key]
                if draw(st.booleans()) and isinstance(node, dict):
                    node.pop(path[-1], None)
                else:
                    node[path[-1]] = draw(JSON_VALUES)
            except (KeyError, IndexError, TypeError):
                pass
    if draw(st.booleans()):
        try:
            doc["sha256"] = value_digest(doc["value"])
        except (TypeError, ValueError):
            pass
    if draw(st.integers(0, 9)) == 0:
        doc["key"] = draw(st.text(max_size=8))
    return json.dumps(doc)


def _cache_with(folder: Path, kind: str, files: dict[str, str]) -> Path:
    cache = folder / f"cache-{kind}"
    target = cache / "checkpoints" / kind
    if target.exists():
        for p in target.iterdir():
            if p.is_dir():
                p.rmdir()
            else:
                p.unlink()
    target.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        if text is None:
            (target / name).mkdir()
        else:
            (target / name).write_text(text)
    return cache


@pytest.mark.parametrize("scale", SCALES)
def test_training_checkpoints(world, worker, scale):
    (name, genuine), = world["training"].items()
    folder = world["folder"]

    @fuzz_settings(scale["checkpoint"])
    @given(text=st.one_of(mutated_documents(genuine), st.none()))
    def run(text):
        cache = _cache_with(folder, "training", {name: text})
        out = folder / "resumed.json"
        check_contract(worker, "checkpoint", folder, [*TRAIN, "--out", out, "--resume"], [], [out],
                       {"QAUDIT_CACHE_DIR": str(cache)})  # (checkpoints are qaudit's own: a finished run removes them)

    run()


@pytest.mark.parametrize("scale", SCALES)
def test_reference_model_checkpoints(world, worker, scale):
    names = sorted(world["reference-models"])
    folder = world["folder"]

    @fuzz_settings(scale["reference"])
    @given(which=st.sampled_from(names), text=st.one_of(
        mutated_documents(world["reference-models"][names[0]]), st.sampled_from([world["reference-models"][n]
                                                                                  for n in names]), st.none()))
    def run(which, text):
        files = {**world["reference-models"], which: text}
        cache = _cache_with(folder, "reference-models", files)
        report = folder / "lira.json"
        check_contract(worker, "reference", folder, ["leak", world["model"], *LIRA, "--resume", "--output", report],
                       [world["model"]], [report],
                       {"QAUDIT_CACHE_DIR": str(cache)})

    run()


# --------------------------------------------------------------------------- the oracle cache
@pytest.mark.parametrize("scale", SCALES)
def test_oracle_cache_entries(world, worker, scale):
    name, genuine, reference = world["oracle"]
    folder = world["folder"]

    @fuzz_settings(scale["oracle"])
    @given(text=mutated_documents(genuine))
    def run(text):
        cache = folder / "cache-oracle"
        (cache / "oracles").mkdir(parents=True, exist_ok=True)
        (cache / "oracles" / name).write_text(text)
        out = folder / "unlearned.json"
        result = check_contract(worker, "oracle", folder, ["unlearn", world["model"], *UNLEARN, "--out", out],
                                [world["model"]], [out], {"QAUDIT_CACHE_DIR": str(cache)})
        if result["code"] in (0, 1) and _report(result["stdout"]) != reference:
            tampered = json.loads(text) if text.startswith("{") else None
            consistent = isinstance(tampered, dict) and tampered.get("sha256") == _safe_digest(tampered.get("value"))
            assert consistent or "warning:" in result["stderr"], "a tampered oracle changed the report silently"

    run()


def _safe_digest(value) -> str:
    try:
        return value_digest(value)
    except (TypeError, ValueError):
        return ""


# --------------------------------------------------------------------------- --dp specs and big integers
NUMBERS = st.sampled_from(["1e-9", "1e-300", "1e308", "1e309", "-1", "0", "nan", "inf", "2", "0.5", "1e-5", "abc",
                           "", DIGITS, "1" * 40, "0x10", "1_000", " 3 ", "1e-320", "999", "1001"])
DP_SPECS = st.one_of(
    st.lists(st.tuples(st.sampled_from(["epsilon", "noise_multiplier", "delta", "clip", "noise-multiplier", "eps",
                                        ""]), NUMBERS), max_size=4).map(
        lambda pairs: ",".join(f"{k}={v}" for k, v in pairs)),
    st.text(max_size=30))


@pytest.mark.parametrize("scale", SCALES)
def test_dp_specs(world, worker, scale):
    folder = world["folder"]

    @fuzz_settings(scale["dp"])
    @given(spec=DP_SPECS)
    def run(spec):
        out = folder / "dp.json"
        check_contract(worker, "dp", folder, ["train", "--dp", spec, "--qubits", "2", "--layers", "1", "--epochs", "1",
                                              "--n-train", "30", "--n-holdout", "10", "--out", out], [], [out])

    run()


BIG = st.one_of(st.integers(2**63, 2**64 + 5).map(str), st.integers(-(2**70), -(2**63) - 1).map(str),
                st.integers(20, 6000).map(lambda n: "9" * n), st.integers(1, 6000).map(lambda n: "-" + "7" * n),
                st.integers(1, 5000).map(lambda n: f"[1, {'8' * n}]"), st.integers(1, 5000).map(
                    lambda n: f'{{"a": {"5" * n}}}'), st.integers(4290, 4310).map(lambda n: "1" * n))
OPTION_SITES = [
    lambda v, w: ["unlearn", w["model"], "--method", "ga", "-O", f"steps={v}", "--forget-class", "1",
                  "--no-forget-gate", "--out", w["folder"] / "big.json"],
    lambda v, w: ["unlearn", w["model"], "--method", "ssd", "-O", f"alpha={v}", "--forget-class", "1",
                  "--no-forget-gate", "--out", w["folder"] / "big.json"],
    lambda v, w: ["leak", w["model"], "-a", "lira", "-A", f"lira.K={v}", "--bootstrap", "10"],
    lambda v, w: ["leak", w["model"], "-a", "gray-box", "-A", f"gray-box.hidden={v}", "--bootstrap", "10"],
    lambda v, w: ["train", "-O", f"layers={v}", "--out", w["folder"] / "big.json"],
    lambda v, w: ["train", "-O", f"lr={v}", "--out", w["folder"] / "big.json"],
    lambda v, w: ["train", "--dp", f"epsilon={v}", "--out", w["folder"] / "big.json"],
    lambda v, w: ["shots", w["model"], "--shots", v, "-R", "1", "-a", "loss", "--bootstrap", "10"],
]


@pytest.mark.parametrize("scale", SCALES)
def test_big_integers_in_option_values(world, worker, scale):
    @fuzz_settings(scale["bigint"])
    @given(value=BIG, site=st.sampled_from(range(len(OPTION_SITES))))
    def run(value, site):
        argv = OPTION_SITES[site](value, world)
        result = check_contract(worker, "bigint", world["folder"], argv, [world["model"]],
                                [world["folder"] / "big.json"])
        assert result["code"] == 2, (argv[:3], result["stderr"][-500:])

    run()


# --------------------------------------------------------------------------- the measurement
@pytest.fixture(scope="module", autouse=True)
def summary():
    """After the module's cases: print counts, exit codes, peak RSS and the longest input (and write them to
    ``$QAUDIT_FUZZ_SUMMARY``); when the slow job ran, check its floor of 1,500 generated inputs."""
    yield
    if not MEASURED:
        return
    total = sum(len(v) for v in MEASURED.values())
    lines = [f"{'surface':<11} {'inputs':>6} {'exit 0/1':>8} {'exit 2':>6} {'exit 3':>6} {'peak RSS MB':>11} "
             f"{'max s':>6}"]
    for surface, rows in sorted(MEASURED.items()):
        codes = [r["code"] for r in rows]
        lines.append(f"{surface:<11} {len(rows):>6} {sum(c in (0, 1) for c in codes):>8} {codes.count(2):>6} "
                     f"{codes.count(3):>6} {max(r['rss'] for r in rows) / 1e6:>11.0f} "
                     f"{max(r['seconds'] for r in rows):>6.2f}")
    lines.append(f"total {total} inputs")
    print("\n" + "\n".join(lines))
    if os.environ.get("QAUDIT_FUZZ_SUMMARY"):
        Path(os.environ["QAUDIT_FUZZ_SUMMARY"]).write_text("\n".join(lines) + "\n")
    if total > sum(FAST.values()) + 1:  # the slow job ran
        assert total >= 1500, f"only {total} generated inputs"
