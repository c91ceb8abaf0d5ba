"""qaudit reproduce's concurrent stages and content-addressed stage cache (issue 19, item 3): a serial run,
a concurrent run and a warm-cache rerun give the same report (timings aside); a damaged cache entry is
recomputed, never trusted; changing a setting recomputes exactly the stages that depend on it."""

from __future__ import annotations

import hashlib
import json
import math
import re
import shutil

import pytest

#: Report cells and JSON keys that are timings (they differ between runs by nature).
TIMING_COLUMNS = {"train s", "seconds"}


def timing_free(report):
    """The report as JSON plus its tables, with every timing (and the output folder) removed."""
    from qaudit.sdk.testing import timeless

    tables = []
    for t in report.tables:
        if t.title == "provenance":
            rows = [r for r in t.rows if "seconds" not in str(r[0]) and r[0] != "command"]
        else:
            keep = [i for i, c in enumerate(t.columns) if c not in TIMING_COLUMNS]
            rows = [[r[i] for i in keep] for r in t.rows]
        tables.append([t.title, rows])
    doc = timeless(report.to_json(), drop=("command", "file", "model"))
    doc["verdict"] = re.sub(r"runtime \d+ s", "runtime - s", doc["verdict"])
    return json.dumps([doc, tables], sort_keys=True, default=str)


def _run(out, cache_dir, monkeypatch, jobs=1, config=None):
    from qaudit_paper.reproduce import ReproduceConfig, run

    monkeypatch.setenv("QAUDIT_CACHE_DIR", str(cache_dir))
    said = []
    report = run(config or ReproduceConfig.quick(), out, command="qaudit reproduce (test)", jobs=jobs,
                 say=said.append)
    return report, said


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        base = tmp_path_factory.mktemp("reproduce-cache")
        serial, _ = _run(base / "serial", base / "cache-a", mp)
        concurrent, _ = _run(base / "concurrent", base / "cache-b", mp, jobs=2)
        warm, said = _run(base / "warm", base / "cache-a", mp)
    return {"serial": serial, "concurrent": concurrent, "warm": warm, "warm_said": said, "base": base}


def test_serial_concurrent_and_warm_reports_are_identical(runs):
    serial = timing_free(runs["serial"])
    assert timing_free(runs["concurrent"]) == serial
    assert timing_free(runs["warm"]) == serial
    seconds = runs["warm"].payload["stage_seconds"]
    assert all(v == "cached" for k, v in seconds.items() if not k.startswith("wall")), seconds
    assert all(isinstance(v, float) for v in runs["serial"].payload["stage_seconds"].values())
    assert any("read from the content-addressed cache" in s for s in runs["warm_said"])


def test_a_damaged_cache_entry_is_recomputed(runs, tmp_path, monkeypatch):
    from qaudit_paper import cache as cache_module
    from qaudit_paper.cache import StageStore, _dumps

    cache = tmp_path / "cache"
    shutil.copytree(runs["base"] / "cache-a", cache)
    entries = sorted((cache / "reproduce" / "stages").glob("*.json"))
    by_content = {}
    for path in entries:
        value = json.loads(path.read_text())["value"]
        by_content["model" if "options" in value else "leak" if "origin" in value else
                   "noise" if "backend" in value else "other-" + path.name] = path
    by_content["model"].write_text(by_content["model"].read_text()[:100])  # truncated
    doc = json.loads(by_content["leak"].read_text())  # a number changed, checksum left alone
    doc["value"]["leak"]["gray-box"]["metrics"]["auc"] = 0.99
    by_content["leak"].write_text(json.dumps(doc))
    doc = json.loads(by_content["noise"].read_text())  # consistent checksum, but not a noise result
    doc["value"] = {"backend": [1, 2]}
    doc["sha256"] = hashlib.sha256(_dumps(doc["value"]).encode()).hexdigest()
    by_content["noise"].write_text(json.dumps(doc))
    report, said = _run(tmp_path / "out", cache, monkeypatch)
    assert timing_free(report) == timing_free(runs["serial"])
    seconds = report.payload["stage_seconds"]
    recomputed = {k for k, v in seconds.items() if v != "cached" and not k.startswith(("wall", "train"))}
    assert recomputed == {"model basic-qnn", "leak basic-qnn", "noise"}
    assert sum("damaged stage cache entry" in s for s in said) == 3
    # the recomputed entries were rewritten and now read back
    store = StageStore()
    keys = {name: json.loads(p.read_text())["key"] for name, p in by_content.items()}
    assert all(store.get(key) is not None for key in keys.values())
    # not JSON at all, or bigger than the size cap: a miss, not a crash
    by_content["model"].write_bytes(b"\x00\xff" * 10)
    assert store.get(keys["model"]) is None
    monkeypatch.setattr(cache_module, "MAX_STAGE_BYTES", 64)
    assert store.get(keys["leak"]) is None


def test_changing_a_setting_recomputes_only_what_depends_on_it(runs, tmp_path, monkeypatch):
    from qaudit_paper.reproduce import ReproduceConfig

    cache = tmp_path / "cache"
    shutil.copytree(runs["base"] / "cache-a", cache)
    config = ReproduceConfig.quick()
    config.methods = ["ga", "rga"]  # the unlearning stage only (the noise stage reruns ga, still in the list)
    report, _ = _run(tmp_path / "out", cache, monkeypatch, config=config)
    seconds = report.payload["stage_seconds"]
    assert {k for k, v in seconds.items() if v != "cached" and not k.startswith("wall")} == {"unlearn basic-qnn"}
    assert set(report.payload["results"]["unlearning"]["basic-qnn"]["methods"]) == {"ga", "rga"}
    assert timing_free(report) != timing_free(runs["serial"])


def test_each_setting_invalidates_the_stages_that_use_it(runs):
    """Which stage keys a setting change moves, computed without running the stages."""
    from qaudit_paper import cache, reproduce, stages

    from qaudit.files import model_file as model_io
    from qaudit.files.data import load_dataset

    ds = load_dataset("digits")
    dref = stages.DatasetRef.of(ds, {})
    files = {label: model_io.load(runs["base"] / "serial" / f"{label}.json") for label in ("basic-qnn", "paper-code")}

    def keys(**changes):
        config = reproduce.ReproduceConfig.quick()
        for name, value in changes.items():
            setattr(config, name, value)
        return {st.name: cache.stage_key(st.name, stages.identity(st.inputs))
                for st in reproduce._stages(config, {"main": (ds, dref)}, files)}

    base = keys()

    def moved(**changes):
        return {name for name, key in keys(**changes).items() if base.get(name) != key}

    assert moved() == set()
    assert moved(bootstrap=40) == {"leak basic-qnn", "paper-code recipe", "shot study", "noise"}
    assert moved(repeats=3) == {"shot study"}
    assert moved(seed=1) == set(base) - {"model basic-qnn"}
    assert moved(forget_class=3) == set(base)


def test_the_stage_key_follows_every_input(monkeypatch):
    import numpy as np
    from qaudit_paper import cache
    from qaudit_paper.stages import identity

    base = cache.stage_key("leak x", identity([{"a": 1}, np.arange(3), 0]))
    assert base == cache.stage_key("leak x", identity([{"a": 1}, np.arange(3), 0]))
    assert base != cache.stage_key("leak x", identity([{"a": 2}, np.arange(3), 0]))  # a setting
    assert base != cache.stage_key("leak x", identity([{"a": 1}, np.arange(3) + 1, 0]))  # content
    assert base != cache.stage_key("leak x", identity([{"a": 1}, np.arange(3), 1]))  # the seed
    assert base != cache.stage_key("leak y", identity([{"a": 1}, np.arange(3), 0]))  # the stage
    monkeypatch.setattr(cache, "code_fingerprint", lambda packages=(): "other code")
    assert base != cache.stage_key("leak x", identity([{"a": 1}, np.arange(3), 0]))  # the code


def test_stage_values_survive_the_cache_exactly():
    import numpy as np
    from qaudit_paper.cache import canonical, decode, encode

    value = {"b": [1, (2.5, float("nan"))], "a": np.float64(0.1), "c": np.arange(2), "d": float("-inf"), "e": None}
    out = canonical(value)
    assert list(out) == ["b", "a", "c", "d", "e"]  # order kept: the report lists in it
    assert out["b"][0] == 1 and out["b"][1][0] == 2.5 and math.isnan(out["b"][1][1])
    assert out["a"] == 0.1 and out["c"] == [0, 1] and out["d"] == -math.inf and out["e"] is None
    again = decode(json.loads(json.dumps(encode(out))))
    assert json.dumps(encode(again)) == json.dumps(encode(out))  # a second trip changes nothing
    with pytest.raises(TypeError):
        encode({"x": object()})


def test_no_cache_switches_both_caches_off(tmp_path, monkeypatch, run_qaudit):
    from conftest import one_line_error
    from qaudit_paper import cache

    from qaudit.files.data import load_dataset

    monkeypatch.setenv("QAUDIT_CACHE_DIR", str(tmp_path / "cache"))
    ds = load_dataset("digits")
    assert cache.cache_path("basic-qnn", ds, 10, 10, 0, {}, None) is not None
    assert cache.cache_path("basic-qnn", ds, 10, 10, 0, {}, None, use_cache=False) is None
    assert cache.StageStore().path("k" * 64) is not None
    off = cache.StageStore(use_cache=False)
    off.put("k" * 64, {"a": 1})  # stores nothing, and says so by returning nothing on read
    assert off.path("k" * 64) is None and off.get("k" * 64) is None
    assert not (tmp_path / "cache").exists()
    code, _, err = run_qaudit(["reproduce", "--quick", "--no-cache", "--jobs", "0", "--out-dir", str(tmp_path / "o")])
    assert code == 2 and "--jobs" in one_line_error(err) and not (tmp_path / "o").exists()


def test_a_model_cache_entry_swapped_for_another_model_is_retrained(runs, tmp_path, monkeypatch, capsys):
    """Issue 28: a model-cache entry replaced by another valid model was loaded and changed the report. Every
    entry carries its key and content hash now: a swapped or altered entry is retrained, with a warning."""
    cache = tmp_path / "cache"
    shutil.copytree(runs["base"] / "cache-a", cache)
    entries = sorted((cache / "reproduce").glob("*.json"))
    assert len(entries) >= 2, entries
    entries[0].write_text(entries[1].read_text())  # another valid entry, under the wrong key (an altered entry:
    # tests/test_hostile_surfaces.py, the oracle cache, which reads entries the same way)
    # (the stage entries stay: they are keyed by model content, so the retrained models find them again)
    capsys.readouterr()
    report, said = _run(tmp_path / "out", cache, monkeypatch)
    err = capsys.readouterr().err
    assert err.count("reproduce model cache entry") == 1 and "another key" in err, err
    assert timing_free(report) == timing_free(runs["serial"])
