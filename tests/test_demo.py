"""`qaudit demo`: the whole pipeline on digits, in order, with its outputs on disk."""

from __future__ import annotations

import json

from qaudit.files import model_file as model_io


def test_demo_runs_every_stage_in_order(run_qaudit, tmp_path, monkeypatch):
    monkeypatch.setenv("QAUDIT_CACHE_DIR", str(tmp_path / "cache"))
    code, out, err = run_qaudit(["demo", "--out-dir", str(tmp_path)])
    assert code == 0, err
    stages = [out.index(marker) for marker in ("holdout accuracy", "strongest attack", "leakage vs shots",
                                               "unlearning digit 4")]
    assert stages == sorted(stages)
    trained = model_io.load(tmp_path / "model.json")
    unlearned = model_io.load(tmp_path / "model.unlearned.json")
    assert trained.kind == unlearned.kind == "basic-qnn"
    leak = json.loads((tmp_path / "leak.json").read_text())
    assert leak["schema"].startswith("qaudit.leak/")
    # The demo model meets the spine's floor on the holdout set.
    assert "holdout accuracy 0.8" in out or "holdout accuracy 0.9" in out
