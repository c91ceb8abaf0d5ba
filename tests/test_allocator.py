"""qaudit.run.allocator: Dask's MALLOC_TRIM_THRESHOLD_ must not make every numpy temporary a fresh mmap.

The check is behavioural and deterministic: minor page faults of an allocation loop (each 1 MiB
temporary faults its 256 pages in again when it is a fresh mmap; a reused heap block does not).
"""

from __future__ import annotations

import subprocess
import sys

import pytest

LOOP = """
import resource, sys
import numpy as np
from qaudit.run.allocator import relax_malloc_trim
changed = relax_malloc_trim() if sys.argv[1] == "relax" else False
a = np.ones(1 << 17)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(200):
    b = a * 2.0  # a 1 MiB temporary, freed every iteration
    b.sum()
print(changed, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before, relax_malloc_trim())
"""


def _faults(mode: str, env_value: str | None) -> tuple[bool, int, bool]:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    if env_value is not None:
        env["MALLOC_TRIM_THRESHOLD_"] = env_value
    out = subprocess.run([sys.executable, "-c", LOOP, mode], env=env, capture_output=True, text=True, check=True)
    changed, faults, again = out.stdout.split()
    return changed == "True", int(faults), again == "True"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc mallopt is Linux-only")
def test_pinned_trim_threshold_is_relaxed_once():
    pinned = _faults("keep", "65536")
    relaxed = _faults("relax", "65536")
    untouched = _faults("relax", None)
    assert pinned[1] > 200 * 100, f"the pinned threshold should fault every temporary in: {pinned}"
    assert relaxed[0] and not relaxed[2], "relaxed once, then a no-op"
    assert relaxed[1] < pinned[1] / 20, f"relaxing should stop the page faults: {relaxed} vs {pinned}"
    assert untouched[0] is False, "without the variable the allocator is left alone"
