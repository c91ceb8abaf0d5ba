"""Hostile inputs, round 3 (issue 28): outputs archives, ``--resume`` checkpoints, cache entries, ``--dp``
specs and big integers. Every case of the issue is a regression test here: one ``error:`` line and exit
2 (or a recomputed cache entry with a warning), never exit 3, never a silently changed report, and
archive bombs refused from their headers with little memory (``refused``: < 64 MB traced).
"""

from __future__ import annotations

import io
import json
import re
import shutil
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest
from conftest import one_line_error
from test_hostile_files import refused

from qaudit.files.checkpoints import Checkpoints, envelope, value_digest
from qaudit.leak.recorded import load_outputs
from qaudit.sdk import limits
from qaudit.sdk.testing import timeless

DIGITS = "9" * 5000


def error_line(err: str) -> str:
    """The one ``error:`` line of *err*, which holds nothing else but progress-bar lines (a refusal found
    while a progress bar runs, e.g. a reference checkpoint met while the attacks train)."""
    lines = [line for line in err.splitlines() if line.strip() and not PROGRESS.match(line)]
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith("error: "), lines[0]
    return lines[0]


PROGRESS = re.compile(r"^.*\d+/\d+ \d+:\d\d:\d\d\s*$")


# --------------------------------------------------------------------------- archive builders
def npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def npy_header(dtype: str, shape: tuple[int, ...]) -> bytes:
    """A version 1.0 ``.npy`` header (no data) declaring *dtype* and *shape*."""
    text = f"{{'descr': '{dtype}', 'fortran_order': False, 'shape': {shape!r}, }}".encode()
    text += b" " * (63 - (len(text) + 10) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text


def zip_bytes(members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=method) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def valid_outputs(n: int = 20, classes: int = 3, seed: int = 0) -> dict[str, bytes]:
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(n, classes))
    return {"logits.npy": npy(logits), "labels.npy": npy(rng.integers(0, classes, n)),
            "membership.npy": npy(np.arange(n) % 2)}


def declared_size(archive: bytes, size: int) -> bytes:
    """*archive* (one member) with the member's inflated size patched to *size* in both headers: a "bomb"
    whose data is never read (the reader must refuse it from the header and the declared size alone)."""
    data = bytearray(archive)
    local = data.find(b"PK\x03\x04")
    central = data.find(b"PK\x01\x02")
    struct.pack_into("<I", data, local + 22, size)
    struct.pack_into("<I", data, central + 24, size)
    return bytes(data)


def bomb(dtype: str, target_bytes: int) -> bytes:
    """An archive whose ``logits`` member declares *dtype* data of about *target_bytes* (≤ 4 GiB)."""
    itemsize = np.dtype(dtype).itemsize
    rows = target_bytes // itemsize // 10
    header = npy_header(dtype, (rows, 10))
    return declared_size(zip_bytes({"logits.npy": header + b"\0" * 64}), len(header) + rows * 10 * itemsize)


def flip(data: bytes, offset: int) -> bytes:
    out = bytearray(data)
    out[offset % len(out)] ^= 0xFF
    return bytes(out)


def patch_flags(data: bytes, *, method: int | None = None, flags: int | None = None) -> bytes:
    out = bytearray(data)
    for signature, flag_at, method_at in ((b"PK\x03\x04", 6, 8), (b"PK\x01\x02", 8, 10)):
        start = 0
        while (i := out.find(signature, start)) >= 0:
            if flags is not None:
                struct.pack_into("<H", out, i + flag_at, struct.unpack_from("<H", out, i + flag_at)[0] | flags)
            if method is not None:
                struct.pack_into("<H", out, i + method_at, method)
            start = i + 4
    return bytes(out)


def header_variant(token: bytes, replacement: bytes) -> bytes:
    members = valid_outputs()
    members["logits.npy"] = members["logits.npy"].replace(token, replacement, 1)
    return zip_bytes(members)


GOOD = zip_bytes(valid_outputs())
MALFORMED = {
    # deflate streams with flipped bits: CRC errors, zlib errors, truncated streams
    **{f"flipped-{k}": flip(GOOD, k) for k in (40, 45, 60, 90, 200, 400)},
    "unknown-compression": patch_flags(GOOD, method=99),
    "bzip2-member": zip_bytes(valid_outputs(), zipfile.ZIP_BZIP2),
    "encrypted-member": patch_flags(GOOD, flags=0x1),
    "header-token": header_variant(b"'descr'", b"'descr'+"),
    "header-not-a-dict": header_variant(b"{'descr'", b"['descr'"),
    "header-unbalanced": header_variant(b"'shape': (", b"'shape': (("),
    "header-negative-shape": zip_bytes({"logits.npy": npy_header("<f8", (-3, 2)) + b"\0" * 48}),
    "header-5000-digit-shape": header_variant(b"'shape': (", b"'shape': (" + DIGITS.encode() + b", "),
    "header-string-dtype": zip_bytes({"logits.npy": npy(np.array(["a", "b"]))}),
    "header-complex": zip_bytes({"logits.npy": npy(np.zeros((2, 2), complex))}),
    "header-structured": zip_bytes({"logits.npy": npy(np.zeros(2, dtype=[("a", "<f8")]))}),
    "header-subarray": zip_bytes({"logits.npy": npy_header("('<f8', (2,))", (2,)) + b"\0" * 32}),
    "header-object": zip_bytes({"logits.npy": npy_header("|O", (1,)) + b"\0" * 8}),
    "header-version-9": zip_bytes({"logits.npy": b"\x93NUMPY\x09\x00" + npy(np.zeros(2))[8:]}),
    "header-bad-magic": zip_bytes({"logits.npy": b"PICKLE" + npy(np.zeros(2))[6:]}),
    "header-length-64k": zip_bytes({"logits.npy": b"\x93NUMPY\x02\x00" + struct.pack("<I", 2**31)}),
    "header-truncated": zip_bytes({"logits.npy": npy(np.zeros(2))[:30]}),
    "data-short-of-shape": zip_bytes({"logits.npy": npy(np.zeros((4, 3)))[:-8]}),
    "data-beyond-shape": zip_bytes({"logits.npy": npy(np.zeros((4, 3))) + b"\0" * 8}),
    "bool-byte-2": zip_bytes({**valid_outputs(), "membership.npy": npy(np.ones(20, bool)).replace(
        b"\x01" * 20, b"\x02" * 20)}),
    "duplicate-member": zip_bytes({**valid_outputs(), "x/../labels.npy": b""}).replace(b"x/../labels.npy",
                                                                                         b"labels.npy\0\0\0\0\0"),
    "many-members": zip_bytes({f"a{i}.npy": b"" for i in range(200)}),
    "truncated-archive": GOOD[: len(GOOD) // 2],
    "not-a-zip": b"\x93NUMPY" + b"\0" * 100,
    "empty-file": b"",
    "zip64-end-record-garbage": GOOD[:-22] + b"PK\x06\x07" + b"\xff" * 16 + GOOD[-22:],
    "central-directory-offset-past-end": GOOD[:-6] + struct.pack("<I", 2**31) + GOOD[-2:],
}
#: A bomb of every dtype the reader accepts: small file, header declaring 1000 MiB (or 300 MiB) of data.
BOMBS = {f"{dtype}-{mib}MiB": bomb(dtype, mib << 20) for dtype in ("<f2", "<f4", "<f8", ">f8", "<f16", "|b1",
                                                                   "|i1", "|u1", "<i2", "<i4", "<i8", "<u8")
         for mib in (300, 1000)}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_a_malformed_archive_is_one_line(name, tmp_path):
    path = tmp_path / "outputs.npz"
    path.write_bytes(MALFORMED[name])
    message = refused(lambda: load_outputs(path))
    assert len(message) <= 600 and "\x1b" not in message


@pytest.mark.parametrize("name", sorted(BOMBS))
def test_a_bomb_of_every_dtype_is_refused_from_its_header(name, tmp_path):
    path = tmp_path / "bomb.npz"
    path.write_bytes(BOMBS[name])
    assert path.stat().st_size < 4096
    refused(lambda: load_outputs(path), "at most")


def test_float16_logits_under_the_inflated_cap_are_refused_by_their_float64_size(tmp_path):
    """The issue's case in small: float16 data within the byte cap that needs 4x as float64."""
    rows = (limits.MAX_OUTPUTS_BYTES // 2 - 4096) // 10  # inflated float16 data just under the cap
    header = npy_header("<f2", (rows, 10))
    path = tmp_path / "f16.npz"
    path.write_bytes(declared_size(zip_bytes({"logits.npy": header + b"\0" * 64}), len(header) + rows * 20))
    refused(lambda: load_outputs(path), "once read as 64-bit numbers")


def test_arrays_read_exactly_whatever_their_layout(tmp_path):
    """Fortran order, big-endian and float16 data read to the same values numpy reads."""
    rng = np.random.default_rng(3)
    logits = rng.normal(size=(20, 3))
    path = tmp_path / "outputs.npz"
    np.savez(path, logits=np.asfortranarray(logits.astype(">f8")), labels=rng.integers(0, 3, 20).astype(">i4"),
             membership=(np.arange(20) % 2).astype(bool))
    recorded = load_outputs(path)
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    np.testing.assert_allclose(recorded.probs, e / e.sum(axis=1, keepdims=True), rtol=1e-15)
    np.savez(path, probs=np.full((20, 2), 0.5, np.float16), labels=np.zeros(20, np.uint8),
             membership=np.arange(20) % 2)
    assert load_outputs(path).probs.dtype == np.float64


def test_cli_malformed_archive_exits_2(tmp_path, run_qaudit):
    path = tmp_path / "outputs.npz"
    path.write_bytes(MALFORMED["unknown-compression"])
    code, out, err = run_qaudit(["leak", "--outputs", str(path), "-f", "json"])
    assert code == 2 and out == ""
    assert "compression method 99" in one_line_error(err)


# --------------------------------------------------------------------------- checkpoints
@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("QAUDIT_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


NOT_CHECKPOINTS = {"list": [], "object": {}, "string": "x", "number": 5, "null": None,
                   "wrong-types": {"schema": 1, "key": [], "sha256": {}, "value": 2},
                   "other-schema": {"schema": "qaudit.model", "key": "k", "sha256": "", "value": {}}}


@pytest.mark.parametrize("name", sorted(NOT_CHECKPOINTS))
def test_valid_json_that_is_not_a_checkpoint_is_refused(name, cache_dir):
    store = Checkpoints("kind", resume=True)
    path = store.path("k")
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(NOT_CHECKPOINTS[name]))
    message = refused(lambda: store.get("k"), "--resume: checkpoint")
    assert "delete it" in message


def test_a_checkpoint_of_another_key_or_altered_is_refused(cache_dir):
    store = Checkpoints("kind", resume=True)
    path = store.path("k")
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(envelope("other", {"a": 1})))
    refused(lambda: store.get("k"), "another key")
    doc = envelope("k", {"a": 1})
    doc["value"]["a"] = 2
    path.write_text(json.dumps(doc))
    refused(lambda: store.get("k"), "altered")
    path.write_text(json.dumps(envelope("k", {"a": 1})))
    assert store.get("k") == {"a": 1}


def test_a_directory_where_the_checkpoint_was_is_refused_and_discard_survives_it(cache_dir):
    store = Checkpoints("kind", resume=True)
    store.path("k").mkdir(parents=True)
    refused(lambda: store.get("k"), "not a regular file")
    store.discard()  # used to raise IsADirectoryError (exit 3)
    Checkpoints("kind").put("k", {"a": 1})  # a failed write only loses the checkpoint


def _train(epochs: int, resume: bool, key: str = "run", adam: bool = False):
    from qaudit.files.checkpoints import training_checkpoints
    from qaudit.train.training import SGD, Adam, run_epochs

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(12, 2)), rng.normal(size=12)
    weights = {"w": np.zeros(2)}

    def loss_grad(Xb, yb):
        r = Xb @ weights["w"] - yb
        return float(np.mean(r**2)), {"w": 2 * Xb.T @ r / len(yb)}

    opt = Adam(lr=0.1) if adam else SGD(lr=0.1, momentum=0.5)
    store = Checkpoints("training", resume)
    with training_checkpoints(store, key):
        history = run_epochs(weights, loss_grad, X, y, epochs, 4, opt, np.random.default_rng(1))
    return weights["w"], history, store


def _forge(path: Path, change) -> None:
    """Rewrite a checkpoint with *change* applied to its state, the envelope's hash recomputed (a consistent
    forgery: only the state's own checks can refuse it)."""
    doc = json.loads(path.read_text())
    change(doc["value"])
    doc["sha256"] = value_digest(doc["value"])
    path.write_text(json.dumps(doc))


TAMPERED_STATES = {
    "done-negative": lambda s: s.update(done=-3),
    "done-beyond-epochs": lambda s: s.update(done=99),
    "done-string": lambda s: s.update(done="2"),
    "done-bool": lambda s: s.update(done=True),
    "epochs-changed": lambda s: s.update(epochs=7),
    "rng-minus-one": lambda s: s["rng"]["state"].update(state=-1),
    "rng-2-to-the-200": lambda s: s["rng"]["state"].update(state=2**200),
    "rng-other-generator": lambda s: s["rng"].update(bit_generator="MT19937"),
    "rng-string": lambda s: s.update(rng="PCG64"),
    "history-short": lambda s: s.update(history=s["history"][:-1]),
    "history-nan": lambda s: s.update(history=["NaN"] * len(s["history"])),
    "weights-renamed": lambda s: s.update(weights={"v": s["weights"]["w"]}),
    "weights-shape": lambda s: s["weights"].update(w=[1.0, 2.0, 3.0]),
    "velocity-list": lambda s: s.update(velocity=[1]),
    "extra-field": lambda s: s.update(extra=1),
}


@pytest.mark.parametrize("name", sorted(TAMPERED_STATES))
def test_train_resume_refuses_a_state_that_does_not_fit_this_run(name, cache_dir, monkeypatch):
    monkeypatch.setattr(Checkpoints, "discard", lambda self: None)  # keep the checkpoint, as an interrupt would
    full, history, store = _train(3, resume=False)
    (path,) = store.folder.glob("*.json")
    assert _train(3, resume=True)[1] == history  # untouched: resumes to the same result
    _forge(path, TAMPERED_STATES[name])
    message = refused(lambda: _train(3, resume=True), "is not a checkpoint of this training")
    assert str(path) in message


def test_adam_state_is_checked_too(cache_dir, monkeypatch):
    monkeypatch.setattr(Checkpoints, "discard", lambda self: None)
    _, history, store = _train(2, resume=False, adam=True)
    (path,) = store.folder.glob("*.json")
    assert _train(2, resume=True, adam=True)[1] == history
    _forge(path, lambda s: s["adam"].update(steps=-1))
    refused(lambda: _train(2, resume=True, adam=True), "adam.steps")


def test_cli_train_resume_with_a_broken_checkpoint_exits_2(cache_dir, tmp_path, run_qaudit, monkeypatch):
    monkeypatch.setattr(Checkpoints, "discard", lambda self: None)
    args = ["train", "--qubits", "2", "--layers", "1", "--epochs", "2", "--n-train", "30", "--n-holdout", "10"]
    code, _, err = run_qaudit([*args, "--out", str(tmp_path / "a.json")])
    assert code == 0, err
    (path,) = (cache_dir / "checkpoints" / "training").glob("*.json")
    for broken in ("[]", '"checkpoint"'):  # (every other kind: the unit tests above)
        path.write_text(broken)
        out = tmp_path / "b.json"
        code, _, err = run_qaudit([*args, "--out", str(out), "--resume"])
        assert code == 2 and not out.exists()
        assert "--resume: checkpoint" in one_line_error(err)
    path.unlink()
    path.mkdir()
    code, _, err = run_qaudit([*args, "--out", str(tmp_path / "b.json"), "--resume"])
    assert code == 2 and "not a regular file" in one_line_error(err)


def test_a_reference_model_checkpoint_swapped_for_another_is_refused(cache_dir, tmp_path, run_qaudit,
                                                                     monkeypatch):
    """The issue's LiRA case: a reference checkpoint replaced by another model changed the AUC silently."""
    from qaudit.files import model_file as model_io
    from qaudit.sdk.testing import train_tiny_model

    monkeypatch.setattr(Checkpoints, "discard", lambda self: None)
    model = tmp_path / "m.json"
    model_io.save(train_tiny_model().file, model)
    args = ["leak", str(model), "-a", "lira", "-K", "2", "--jobs", "1", "--bootstrap", "10", "--folds", "2",
            "-f", "json"]
    code, _, err = run_qaudit(args)
    assert code in (0, 1), err
    a, b = sorted((cache_dir / "checkpoints" / "reference-models").glob("*.json"))  # (resuming from intact
    # checkpoints reaches the uninterrupted result: tests/test_resume.py)
    shutil.copy(a, b)
    code, out, err = run_qaudit([*args, "--resume"])
    assert code == 2 and out == ""
    assert "another key" in error_line(err)
    _forge(a, lambda doc: doc.update(config={}))  # consistent hash, but not a model of this architecture
    b.unlink()
    code, out, err = run_qaudit([*args, "--resume"])
    assert code == 2 and "not a usable checkpoint" in error_line(err)


def test_a_tampered_shot_study_checkpoint_is_refused(cache_dir, tiny_model, tmp_path, run_qaudit, monkeypatch):
    monkeypatch.setattr(Checkpoints, "discard", lambda self: None)
    args = ["shots", str(tiny_model.path), "--shots", "16,64", "-R", "1", "-a", "loss", "--bootstrap", "10",
            "--executor", "serial", "-f", "json"]
    code, _, err = run_qaudit(args)
    assert code in (0, 1), err
    a, b = sorted((cache_dir / "checkpoints" / "shot-study").glob("*.json"))
    doc = json.loads(a.read_text())
    doc["value"]["run"]["leak"] = {"loss": {"auc": 0.99}}  # a changed result, hash left alone
    a.write_text(json.dumps(doc))
    code, out, err = run_qaudit([*args, "--resume"])
    assert code == 2 and out == "" and "altered" in error_line(err)
    _forge(a, lambda piece: piece.update(probe="x"))  # consistent hash, not a run of this study
    code, out, err = run_qaudit([*args, "--resume"])
    assert code == 2 and "not a usable checkpoint" in error_line(err)
    a.write_text(b.read_text())  # another run's checkpoint copied over it
    code, out, err = run_qaudit([*args, "--resume"])
    assert code == 2 and "another key" in error_line(err)


# --------------------------------------------------------------------------- the oracle cache
def test_a_tampered_oracle_cache_entry_is_recomputed_with_a_warning(cache_dir, tiny_model, tmp_path, run_qaudit):
    args = ["unlearn", str(tiny_model.path), "--method", "ga", "-O", "steps=2", "--forget-class", "1",
            "--no-forget-gate", "-f", "json"]
    code, first, err = run_qaudit([*args, "--out", str(tmp_path / "a.json")])
    assert code in (0, 1), err
    entries = sorted((cache_dir / "oracles").glob("*.json"))  # one per retrain of the reference
    assert len(entries) >= 1
    entry = entries[0]
    original = entry.read_text()

    def rerun() -> tuple[dict, str]:
        code, out, err = run_qaudit([*args, "--out", str(tmp_path / "b.json")])
        assert code in (0, 1), err
        return timeless(json.loads(out)), err

    doc = json.loads(original)
    doc["value"]["params"]["W"] = np.zeros_like(np.asarray(doc["value"]["params"]["W"])).tolist()
    entry.write_text(json.dumps(doc))  # altered, hash left alone
    report, err = rerun()
    assert "oracle cache entry" in err and "altered" in err
    assert report["result"] == timeless(json.loads(first))["result"]
    # a consistent forgery: the target model itself (it trained on the forget set) under the right key
    target = json.loads(tiny_model.path.read_text())
    entry.write_text(json.dumps(envelope(doc["key"], target, doc["schema"])))
    report, err = rerun()
    assert "does not hold a retrain" in err
    assert report["result"] == timeless(json.loads(first))["result"]
    assert json.loads(entry.read_text())["value"]["params"] == json.loads(original)["value"]["params"]
    report, err = rerun()
    assert "warning" not in err  # the recomputed entry is used again


# --------------------------------------------------------------------------- --dp specs and big integers
@pytest.mark.parametrize("spec,fragment", [
    ("epsilon=2,clip=1e308", "--dp clip must be a number in (0, 1e+06]"),
    ("noise_multiplier=1e-300", "--dp noise_multiplier must be a number in [0.001, 1000]"),
    ("noise_multiplier=1,clip=0", "--dp clip"),
    ("epsilon=" + DIGITS, "--dp epsilon must be a number"),
])
def test_dp_specs_out_of_range_are_refused_before_training(spec, fragment):
    from qaudit.dp.spec import DPSpec

    refused(lambda: DPSpec.parse(spec), fragment)


def test_dp_calibration_that_cannot_reach_the_target_is_one_line(tmp_path, run_qaudit):
    pytest.importorskip("dp_accounting")
    out = tmp_path / "dp.json"
    code, _, err = run_qaudit(["train", "--dp", "epsilon=1e-9", "--qubits", "2", "--layers", "1", "--epochs", "1",
                               "--n-train", "30", "--n-holdout", "10", "--out", str(out)])
    assert code == 2 and not out.exists()
    assert "could not calibrate the noise to epsilon 1e-09" in one_line_error(err)


@pytest.mark.parametrize("argv", [
    ["unlearn", "MODEL", "-O", f"steps={DIGITS}", "--forget-class", "1"],
    ["unlearn", "MODEL", "-O", f"lr=[1, {DIGITS}]", "--forget-class", "1"],
    ["unlearn", "MODEL", "-O", f"steps={'9' * 4000}", "--forget-class", "1"],
    ["leak", "MODEL", "-a", "lira", "-A", f"lira.K={DIGITS}"],
    ["leak", "MODEL", "-a", "gray-box", "-A", f"hidden={'9' * 30}"],
    ["train", "-O", f"layers={DIGITS}", "--out", "OUT"],
    ["train", "--dp", f"noise_multiplier={DIGITS}", "--out", "OUT"],
])
def test_huge_integers_in_options_are_one_line(argv, tiny_model, tmp_path, run_qaudit):
    out = tmp_path / "out.json"
    argv = [str(tiny_model.path) if a == "MODEL" else str(out) if a == "OUT" else a for a in argv]
    code, _, err = run_qaudit(argv)
    assert code == 2 and not out.exists()
    line = one_line_error(err)
    assert len(line) <= 300, line


def test_shown_values_are_short():
    assert limits.shown(10**5000) == "an integer of about 5001 digits"
    assert limits.shown([10**5000]) == "a list holding an over-long integer"
    assert len(limits.shown("x" * 10_000)) <= limits.MAX_SHOWN


def test_a_5000_digit_integer_in_a_config_file_is_one_line(tmp_path, tiny_model, run_qaudit, monkeypatch):
    config = tmp_path / "qaudit.toml"
    config.write_text(f"[leak]\nseed = {DIGITS}\n")
    monkeypatch.setenv("QAUDIT_CONFIG", str(config))
    code, _, err = run_qaudit(["leak", str(tiny_model.path), "-a", "loss", "--bootstrap", "10"])
    assert code == 2 and "thousands of digits" in one_line_error(err)
