"""Coverage of the AUC intervals, simulated (issue 25): the numbers behind docs/statistics.md §2/§3.

Binormal scores: members N(d, 1), non-members N(0, 1), true AUC Phi(d / sqrt 2). For each setting the
interval is computed on ``reps`` independent samples and the share that contains the true AUC is printed
with its binomial standard error, for

* ``metrics.auc_interval`` (the reported interval: hull of logit-DeLong and Newcombe's score interval),
* ``metrics.delong_ci`` (DeLong's variance in a Wald interval, the slice interval before issue 25),
* ``metrics.auc_ci`` (percentile bootstrap, 1000 replicates; the overall interval before issue 25;
  ``--bootstrap-reps`` samples per setting because it costs ~1000x more).

Tables:

1. overall, 95 %: n = 20..1000 per side, AUC 0.5..0.96;
2. one slice cell at the Bonferroni level 1 - 0.05/40 (40 cells), n = 5..500 per side, AUC 0.5..0.95:
   the family-wise miss rate of m such cells is at most the sum of their miss rates;
3. family-wise: families of 40 independent cells (sizes drawn from 5..500 per side, AUCs from 0.5..0.95,
   members and non-members of a cell drawn separately), every cell at 1 - 0.05/40: the share of families in
   which *every* interval covers.

Usage: python benchmarks/intervals.py [--reps 4000] [--slice-reps 20000] [--families 2000] [--bootstrap-reps 500]
       [--only overall|slices|families] [--n 20,50]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
from scipy.special import ndtri

from qaudit.leak import metrics

OVERALL_N = (20, 50, 100, 200, 500, 1000)
OVERALL_AUC = (0.5, 0.6, 0.7, 0.8, 0.9, 0.96)
SLICE_N = (5, 10, 20, 50, 100, 500)
SLICE_AUC = (0.5, 0.7, 0.8, 0.9, 0.95)
CELLS = 40
ALPHA = 0.05


def sample(rng: np.random.Generator, n1: int, n0: int, auc: float) -> tuple[np.ndarray, np.ndarray]:
    """Binormal scores with true AUC *auc* and the membership labels."""
    d = np.sqrt(2.0) * ndtri(auc)
    return np.r_[rng.normal(d, 1, n1), rng.normal(0, 1, n0)], np.r_[np.ones(n1, bool), np.zeros(n0, bool)]


def coverage(method, n1: int, n0: int, auc: float, reps: int, level: float, seed: int) -> tuple[float, int]:
    """(share of *reps* intervals containing *auc*, zero-width intervals)."""
    rng = np.random.default_rng(seed)
    hits = zero = 0
    for _ in range(reps):
        s, m = sample(rng, n1, n0, auc)
        lo, hi = method(s, m, level)
        hits += lo <= auc <= hi
        zero += hi - lo <= 0.0
    return hits / reps, zero


def methods(bootstrap: bool):
    out = {"auc_interval": metrics.auc_interval, "DeLong Wald": metrics.delong_ci}
    if bootstrap:
        out["bootstrap"] = lambda s, m, level: metrics.auc_ci(s, m, seed=int(s.size), level=level)
    return out


def cell(cov: float, reps: int, zero: int) -> str:
    se = np.sqrt(max(cov * (1 - cov), 1e-12) / reps)
    return f"{cov:.4f} ± {se:.4f}" + (f" ({zero} zero-width)" if zero else "")


def table(title: str, ns, aucs, level: float, reps: int, boot_reps: int) -> None:
    names = list(methods(boot_reps > 0))
    print(f"\n### {title} (level {level:.5g}; ± one binomial standard error)\n")
    print("| n per side | AUC | " + " | ".join(f"{n} ({reps if n != 'bootstrap' else boot_reps} samples)"
                                             for n in names) + " |")
    print("|---|---|" + "---|" * len(names))
    for n in ns:
        for a in aucs:
            cells = []
            for name, method in methods(boot_reps > 0).items():
                r = boot_reps if name == "bootstrap" else reps
                cov, zero = coverage(method, n, n, a, r, level, seed=hash((n, a)) % (1 << 30))
                cells.append(cell(cov, r, zero))
            print(f"| {n} | {a} | " + " | ".join(cells) + " |", flush=True)


def families(count: int, seed: int = 1) -> None:
    rng = np.random.default_rng(seed)
    level = 1 - ALPHA / CELLS
    sizes = np.array([5, 10, 20, 50, 100, 200, 500])
    aucs = np.array(SLICE_AUC)
    covered = {"auc_interval": 0, "DeLong Wald": 0}
    for _ in range(count):
        ok = dict.fromkeys(covered, True)
        for _ in range(CELLS):
            n1, n0, a = int(rng.choice(sizes)), int(rng.choice(sizes)), float(rng.choice(aucs))
            s, m = sample(rng, n1, n0, a)
            for name, method in methods(False).items():
                lo, hi = method(s, m, level)
                ok[name] = ok[name] and lo <= a <= hi
        for name in covered:
            covered[name] += ok[name]
    print(f"\n### Family-wise coverage: {count} families of {CELLS} independent cells, each at 1 - {ALPHA}/{CELLS}; "
          "cell sizes 5..500 per side (drawn separately), AUC 0.5..0.95\n")
    print("| interval | families fully covered |")
    print("|---|---|")
    for name, k in covered.items():
        print(f"| {name} | {cell(k / count, count, 0)} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=4000)
    parser.add_argument("--slice-reps", type=int, default=20000)
    parser.add_argument("--families", type=int, default=2000)
    parser.add_argument("--bootstrap-reps", type=int, default=500)
    parser.add_argument("--only", choices=["overall", "slices", "families"])
    parser.add_argument("--n", help="comma-separated sizes per side for the overall table (default 20..1000)")
    args = parser.parse_args()
    start = time.perf_counter()
    print(f"# benchmarks/intervals.py ({os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}, "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})")
    if args.only in (None, "overall"):
        ns = [int(v) for v in args.n.split(",")] if args.n else OVERALL_N
        table("Overall AUC interval, 95 %", ns, OVERALL_AUC, 0.95, args.reps, args.bootstrap_reps)
    if args.only in (None, "slices"):
        table(f"One slice cell at the Bonferroni level for {CELLS} cells", SLICE_N, SLICE_AUC,
              1 - ALPHA / CELLS, args.slice_reps, 0)
    if args.only in (None, "families"):
        families(args.families)
    print(f"\n{time.perf_counter() - start:.0f} s, load {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
