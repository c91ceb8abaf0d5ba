"""Issue 14's reproducers, each run as a real process: exit code, last stderr line, wall time and the
peak memory of the process tree (ru_maxrss of the children). Floors: exit 2 (or a correct result),
one line, <= 10 s, <= 1 GB.

Usage: python benchmarks/reproducers.py   (prints a Markdown table; builds its inputs in a temp folder)
"""

from __future__ import annotations

import gzip
import json
import os
import resource
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

QAUDIT = [sys.executable, "-c", "from qaudit.cli.app import main; main()"]


def run(args: list[str], cwd: Path) -> tuple[int, str, float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    proc = subprocess.run([*QAUDIT, *args], cwd=cwd, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "QAUDIT_CACHE_DIR": "off"})
    seconds = time.perf_counter() - start
    peak = max(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, before) / 1024  # MiB (Linux: KiB)
    lines = [line for line in proc.stderr.splitlines() if line.strip() and "━" not in line]
    return proc.returncode, (lines[-1] if lines else ""), seconds, peak


def build(folder: Path) -> dict[str, list[str]]:
    subprocess.run([*QAUDIT, "train", "--qubits", "4", "--layers", "1", "--epochs", "2", "--n-train", "100",
                    "--n-holdout", "100", "--out", "m.json"], cwd=folder, check=True, capture_output=True)
    doc = json.loads((folder / "m.json").read_text())

    def variant(name: str, change) -> str:
        d = json.loads(json.dumps(doc))
        change(d)
        (folder / name).write_text(json.dumps(d))
        return name

    deep = "[" * 100_000 + "]" * 100_000
    (folder / "deep.json").write_text(deep)
    (folder / "deep.toml").write_text("[a" + ".b" * 2000 + "]\n")
    (folder / "huge-index.txt").write_text(str(10**30))
    os.symlink("/dev/zero", folder / "zero.csv")
    with gzip.open(folder / "t10k-images-idx3-ubyte.gz", "wb") as handle:  # 3 GB declared, streamed zeros
        handle.write(struct.pack(">IIII", 2051, 60000, 224, 224))
        handle.write(b"\0" * (8 << 20))
    with gzip.open(folder / "t10k-labels-idx1-ubyte.gz", "wb") as handle:
        handle.write(struct.pack(">II", 2049, 60000) + b"\0" * 60000)
    np.savez(folder / "bigheader.npz", X=np.zeros((2, 2)), y=np.zeros(2))
    (folder / "label.csv").write_text("a,label\n" + "\n".join(f"{i},{i % 2}" for i in range(20)) + "\n1,1000000000\n")
    (folder / "onlylabel.csv").write_text("label\n" + "\n".join(str(i % 2) for i in range(20)) + "\n")
    return {
        "markup path": ["evaluate", "[/].json"],
        "int beyond int64 in members": ["evaluate", variant("big.json", lambda d: d["data"]["members"].__setitem__(
            0, 10**30))],
        "float member index": ["evaluate", variant("float.json", lambda d: d["data"]["members"].__setitem__(0, 3.9))],
        "W = 1e308": ["evaluate", variant("w.json", lambda d: d["params"].__setitem__("W", [[1e308] * 10] * 4))],
        "20 qubits, 2^20 pad": ["evaluate", variant("wide.json", lambda d: d["config"].__setitem__("qubits", 20))],
        "n_classes 2^24": ["evaluate", variant("classes.json", lambda d: d["config"].__setitem__("n_classes",
                                                                                            2**24))],
        "--seed -1": ["leak", "m.json", "-a", "loss", "--seed", "-1"],
        "--seed 10^23": ["leak", "m.json", "-a", "loss", "--seed", "99999999999999999999999"],
        "JSON nested 100,000 deep (model)": ["evaluate", "deep.json"],
        "JSON nested 100,000 deep (index)": ["leak", "m.json", "-a", "loss", "--members", "deep.json",
                                             "--non-members", "deep.json"],
        "TOML with 2,000 nested tables": ["leak", "m.json", "-a", "loss"],  # run with QAUDIT_CONFIG below
        "member index 10^30 (index file)": ["leak", "m.json", "-a", "loss", "--members", "huge-index.txt",
                                            "--non-members", "huge-index.txt"],
        "/dev/zero as CSV": ["train", "--dataset", "zero.csv", "--out", "z.json"],
        "/dev/zero as index": ["leak", "m.json", "--members", "/dev/zero", "--non-members", "/dev/zero"],
        "gzip IDX declaring 3 GB": ["train", "--dataset", "mnist", "--data-dir", ".", "--out", "x.json"],
        "label 10^9": ["train", "--dataset", "label.csv", "--out", "l.json"],
        "CSV with only a label column": ["train", "--dataset", "onlylabel.csv", "--out", "o.json"],
        "train --qubits 24": ["train", "--qubits", "24", "--out", "q.json"],
        "rga batch_size=-1 (hang)": ["unlearn", "m.json", "--forget-class", "2", "--method", "rga", "-O",
                                     "batch_size=-1"],
        "-A gray-box.hidden=10^8": ["leak", "m.json", "-a", "gray-box", "-A", "gray-box.hidden=100000000"],
        "--jobs 16": ["leak", "m.json", "-a", "lira", "--jobs", "16"],
        "steps=1.5": ["unlearn", "m.json", "--forget-class", "2", "-O", "steps=1.5"],
        "--output = input model": ["evaluate", "m.json", "--output", "m.json"],
        "unlearn --out r.json --output r.json": ["unlearn", "m.json", "--forget-class", "2", "--out", "r.json",
                                                 "--output", "r.json"],
        "leak --report json=/nonexistent/x.json": ["leak", "m.json", "-a", "loss", "--report",
                                                   "json=/nonexistent/x.json"],
        "demo --out-dir /nonexistent/x": ["demo", "--out-dir", "/nonexistent/x"],
        "missing argument": ["evaluate"],
        "--shots abc": ["evaluate", "m.json", "--shots", "abc"],
        "unknown command": ["nope"],
    }


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        cases = build(folder)
        print("| reproducer | exit | last line | seconds | peak MiB |\n|---|---|---|---|---|")
        worst = 0.0
        for name, args in cases.items():
            if name.startswith("TOML"):
                os.environ["QAUDIT_CONFIG"] = str(folder / "deep.toml")
            code, line, seconds, peak = run(args, folder)
            os.environ.pop("QAUDIT_CONFIG", None)
            worst = max(worst, seconds)
            print(f"| {name} | {code} | `{line[:90]}` | {seconds:.2f} | {peak:.0f} |")
        print(f"\nslowest: {worst:.2f} s; peak memory is the largest child RSS so far (monotone over the run)")


if __name__ == "__main__":
    main()
