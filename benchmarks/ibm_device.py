"""The paper's device experiment, offline: leakage before and after unlearning digit 4, on the exact backend and
on an IBM fake device in Runtime's local testing mode, side by side (the README's device table).

Runs the ``qaudit reproduce --device-only`` stage (:mod:`qaudit_paper.device`) with two device backends,
``ibm-fake:DEVICE,noise=none`` (the device's transpiled circuit, shot noise only) and ``ibm-fake:DEVICE`` (Aer's
noise model of the device's calibration snapshot), beside the exact backend: a small basic QNN trained to leak
(few members, many epochs), audited with the paper's gray-box attack and the loss attack, unlearned (GA, digit 4)
and audited again. Prints the stage's table (strongest attack's held-out AUC with its 95% interval, Holm verdict,
the paper's MIA accuracy, accuracies, device work), whether leakage survives device noise, and the cost: wall
time, CPU time, peak memory and the load average.

    nice -n 10 .venv/bin/python benchmarks/ibm_device.py [--device FakeSherbrooke] [--options members=100,...]
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="FakeSherbrooke")
    parser.add_argument("--options", default="", help="--device-options of qaudit reproduce (members=N,...)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=2, help="worker processes (the audits run concurrently)")
    parser.add_argument("--work", type=Path, default=Path("/tmp/qaudit-ibm-device"))
    args = parser.parse_args()
    from qaudit_paper.reproduce import ReproduceConfig, device_config, run, write_outputs

    backends = [f"ibm-fake:{args.device},noise=none", f"ibm-fake:{args.device}"]
    config = ReproduceConfig.device_only(device_config(backends, args.options, True, False))
    config.seed = args.seed
    args.work.mkdir(parents=True, exist_ok=True)
    load_start = os.getloadavg()[0]
    start, cpu = time.perf_counter(), time.process_time()
    report = run(config, args.work, command="benchmarks/ibm_device.py", jobs=args.jobs, use_cache=False,
                 say=lambda text: print(text, flush=True))
    wall = time.perf_counter() - start
    write_outputs(report, args.work)
    table = next(t for t in report.tables if t.title.startswith("the paper's device experiment"))
    lines = ["| " + " | ".join(table.columns) + " |", "|" + "---|" * len(table.columns)]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in table.rows]
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    own = resource.getrusage(resource.RUSAGE_SELF)
    seconds = report.payload["stage_seconds"]
    meta = (f"{table.note}\n\nseed {args.seed}; wall {wall:.0f} s for everything "
            f"({seconds.get('train device-basic-qnn')} s training, stage job seconds {seconds.get('device')}), "
            f"CPU {own.ru_utime + children.ru_utime:.0f} s "
            f"user (this process {time.process_time() - cpu:.0f} s); peak RSS {own.ru_maxrss / 1024:.0f} MB here, "
            f"{children.ru_maxrss / 1024:.0f} MB in the largest worker; {args.jobs} workers; "
            f"{platform.machine()}, {os.cpu_count()} cores, load average {load_start:.1f} at the start, "
            f"{os.getloadavg()[0]:.1f} at the end")
    text = "\n".join(lines) + "\n\n" + meta + "\n"
    (args.work / "table.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
