"""The paper's device experiment, offline: leakage before and after unlearning digit 4, on the exact backend and
on an IBM fake device in Runtime's local testing mode (device noise), side by side.

Trains a basic QNN on digits (amplitude encoding), audits it (gray-box MIA, the paper's attack, plus the loss
attack) on three backends -- ``exact`` (no shot or device noise), ``ibm-fake:DEVICE,noise=none`` (the device's
transpiled circuit, shot noise only) and ``ibm-fake:DEVICE`` (Aer's noise model of the device's calibration
snapshot) -- then unlearns digit 4 (the default method) and audits the unlearned model the same way. Reference
models (none for these attacks) would be simulated; the target alone runs on the device path.

Prints, per model and backend: the strongest attack's held-out AUC with its 95% interval, the verdict (Holm,
alpha 0.05), the paper's MIA accuracy (fraction of digit-4 members the gray-box attack calls members, every
member scored out of fold), the target's accuracy and the device work (jobs, units, QPU-second estimate).

    nice -n 10 .venv/bin/python benchmarks/ibm_device.py [--device FakeSherbrooke] [--qubits 6] [--n 300]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path


def audit(path: Path, backend: str, shots: int | None, seed: int) -> tuple[dict, float]:
    from qaudit import api
    from qaudit.leak.audit import AuditSettings

    settings = AuditSettings(attacks=["gray-box", "loss"], backend=backend, shots=shots, seed=seed, forget_class=4)
    start = time.perf_counter()
    report = api.audit(path, settings=settings)
    return report.to_json(), time.perf_counter() - start


def row(label: str, backend: str, doc: dict, seconds: float) -> list:
    attacks = doc["attacks"]
    best = doc["summary"]["strongest_attack"]
    m = attacks[best]["metrics"]
    gray = attacks["gray-box"]["details"]
    submitted = (doc.get("execution") or {}).get("submitted") or {}
    return [label, backend, f"{m['auc']:.3f} [{m['auc_low']:.3f}, {m['auc_high']:.3f}] ({best})",
            "LEAKS" if doc["summary"]["leaks"] else "no significant leakage",
            f"{100 * gray['member_rate']:.1f}%" if gray.get("member_rate") is not None else "-",
            f"{100 * doc['summary']['member_accuracy']:.1f}% / {100 * doc['summary']['non_member_accuracy']:.1f}%",
            f"{submitted.get('jobs', '-')} / {submitted.get('units', '-')}",
            "-" if submitted.get("qpu_seconds") is None else f"{submitted['qpu_seconds']:.0f}", f"{seconds:.0f}"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="FakeSherbrooke")
    parser.add_argument("--qubits", type=int, default=6)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--n", type=int, default=300, help="members = holdout samples")
    parser.add_argument("--shots", type=int, default=1024)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", type=Path, default=Path("/tmp/qaudit-ibm-device"))
    args = parser.parse_args()
    from qaudit import api

    args.work.mkdir(parents=True, exist_ok=True)
    model, unlearned = args.work / "model.json", args.work / "unlearned.json"
    start = time.perf_counter()
    api.train("basic-qnn", "digits", n_train=args.n, n_holdout=args.n, seed=args.seed, out=model,
              options={"qubits": args.qubits, "layers": args.layers, "epochs": args.epochs, "lr": 0.05,
                       "batch_size": 32})
    train_s = time.perf_counter() - start
    start = time.perf_counter()
    api.unlearn(model, forget_class=[4], seed=args.seed, out=unlearned)
    unlearn_s = time.perf_counter() - start
    backends = [("exact", None), (f"ibm-fake:{args.device},noise=none", args.shots),
                (f"ibm-fake:{args.device}", args.shots)]
    rows, docs = [], {}
    for label, path in (("before unlearning", model), ("after unlearning digit 4", unlearned)):
        for backend, shots in backends:
            doc, seconds = audit(path, backend, shots, args.seed)
            docs[f"{label} | {backend}"] = doc
            rows.append(row(label, backend + ("" if shots is None else f", {shots} shots"), doc, seconds))
            print(" | ".join(str(c) for c in rows[-1]), flush=True)
    header = ["model", "backend", "strongest attack AUC [95% CI]", "verdict (Holm, alpha 0.05)",
              "MIA accuracy on digit-4 members (gray-box)", "accuracy members / non-members", "jobs / units",
              "QPU s (est.)", "wall s"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    load = os.getloadavg()
    meta = (f"basic-qnn, {args.qubits} qubits, {args.layers} layers, {args.epochs} epochs, digits, {args.n} members / "
            f"{args.n} non-members, seed {args.seed}; train {train_s:.0f} s, unlearn (default method) "
            f"{unlearn_s:.0f} s; "
            f"{platform.machine()}, {os.cpu_count()} cores, load average {load[0]:.1f} at the end")
    text = "\n".join(lines) + "\n\n" + meta + "\n"
    (args.work / "table.md").write_text(text)
    (args.work / "reports.json").write_text(json.dumps(docs, indent=1))
    print(text)


if __name__ == "__main__":
    main()
