"""`qaudit reproduce` cold, warm and serial (issue 19 item 3): wall and CPU time, per-stage seconds, report equality.

    python benchmarks/reproduce.py --data-dir ../shared/data/mnist [--quick] [--jobs 2] [--no-serial]

Runs, each as a real process with its own fresh cache folder where stated:

1. cold: ``qaudit reproduce --jobs J`` with an empty ``QAUDIT_CACHE_DIR`` (trains, computes every stage);
2. warm: the same command again on that cache (reads the models and stage results back);
3. serial reference (unless ``--no-serial``): ``--jobs 1`` with another empty cache, in the same run.

Prints wall and CPU seconds (user + sys of the child), the load average before each run, the per-stage
seconds each report recorded, and whether the reports agree with the serial one once timings are removed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run(args: list[str], cache: Path, out: Path) -> dict:
    env = {**os.environ, "QAUDIT_CACHE_DIR": str(cache)}
    load = os.getloadavg()[0]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    command = [str(Path(sys.executable).parent / "qaudit"), "reproduce", *args, "--out-dir", str(out)]
    proc = subprocess.run(command, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        sys.exit(f"reproduce failed ({proc.returncode}): {proc.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    doc = json.loads((out / "report.json").read_text())
    return {"wall": wall, "cpu": cpu, "load": load, "doc": doc}


def timing_free(doc: dict) -> str:
    """The report without timings, the command line and the output folder (qaudit.sdk.testing.timeless)."""
    from qaudit.sdk.testing import timeless

    doc = timeless(doc, drop=("command", "file", "model"))
    doc["verdict"] = re.sub(r"runtime \d+ s", "runtime - s", doc["verdict"])
    return json.dumps(doc, sort_keys=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--quick", action="store_true", help="ReproduceConfig.quick instead of paper settings")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--no-serial", action="store_true", help="skip the serial reference run")
    opts = parser.parse_args()
    base = [*(["--data-dir", opts.data_dir] if opts.data_dir else []), *(["--quick"] if opts.quick else [])]
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        rows = {"cold": run([*base, "--jobs", str(opts.jobs)], t / "cache", t / "cold")}
        rows["warm"] = run([*base, "--jobs", str(opts.jobs)], t / "cache", t / "warm")
        if not opts.no_serial:
            rows["serial cold"] = run([*base, "--jobs", "1"], t / "cache-serial", t / "serial")
    print(f"{os.cpu_count()} cores, {'quick' if opts.quick else 'paper'} settings, --jobs {opts.jobs}")
    print("| run | wall s | CPU s | load avg (1 min) before |")
    print("|---|---|---|---|")
    for name, r in rows.items():
        print(f"| {name} | {r['wall']:.1f} | {r['cpu']:.1f} | {r['load']:.2f} |")
    if "serial cold" in rows:
        print(f"cold speed-up vs serial: {rows['serial cold']['wall'] / rows['cold']['wall']:.2f}x")
    names = list(dict.fromkeys(k for r in rows.values() for k in r["doc"]["stage_seconds"]))
    print("| stage | " + " | ".join(rows) + " |")
    print("|---|" + "---|" * len(rows))
    for name in names:
        print(f"| {name} | " + " | ".join(str(r["doc"]["stage_seconds"].get(name, "-")) for r in rows.values()) + " |")
    ref = rows.get("serial cold", rows["cold"])
    for name, r in rows.items():
        print(f"{name}: report {'==' if timing_free(r['doc']) == timing_free(ref['doc']) else '!='} "
              f"{'serial' if 'serial cold' in rows else 'cold'} (timings aside)")


if __name__ == "__main__":
    main()
