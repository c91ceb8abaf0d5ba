"""The Dask executor's lifecycle (issue 28): scheduler addresses parsed before anything connects, everything
it starts closed on every path, no scratch files left, Ctrl-C and SIGTERM during a Dask run end in one line.

Tests that need Dask skip (with the reason) when the ``dask`` extra is not installed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import one_line_error
from test_executors import lira_model  # noqa: F401 - the fixture

from qaudit.sdk.errors import QauditError
from qaudit.sdk.protocols import ExecutorSettings, Job

#: What a user typed, what Dask cannot use (issue 28's list).
UNPARSEABLE = ["garbage", "tcp://", "http://10.0.0.5:8787", "tcp://host:abc", "inproc://x", "tls://",
               "file:///tmp/scheduler"]
QAUDIT = [sys.executable, "-c", "from qaudit.cli.app import main; main()"]


def _dask():
    return pytest.importorskip("distributed", reason="the dask extra is not installed (pip install 'qaudit[dask]')")


@pytest.mark.parametrize("address", UNPARSEABLE)
def test_an_unparseable_scheduler_address_is_refused_before_dask_is_touched(address):
    from qaudit_executors.dask_executor import DaskExecutor

    with pytest.raises(QauditError, match="Dask scheduler address") as caught:
        DaskExecutor.open(ExecutorSettings(scheduler=address))
    assert repr(address) in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.parametrize("address,parsed", [("tcp://10.0.0.5:8786", "tcp://10.0.0.5:8786"),
                                            ("localhost:8786", "tcp://localhost:8786"),
                                            ("TLS://sched.example.org:8786", "tls://sched.example.org:8786"),
                                            ("tcp://[::1]:8786", "tcp://[::1]:8786")])
def test_addresses_dask_accepts_are_kept(address, parsed):
    from qaudit_executors.dask_executor import parse_address

    assert parse_address(address) == parsed


def test_an_unparseable_address_leaves_no_client_behind(lira_model, tmp_path):  # noqa: F811
    """The command line: one line, exit 2, and none of the ``Exception ignored in Client.__del__`` noise of a
    half-made Client at exit (which also held the exit for 10 s)."""
    _dask()
    proc = subprocess.run([*QAUDIT, "leak", str(lira_model), "-a", "loss", "--scheduler", "tcp://host:abc"],
                          capture_output=True, text=True, timeout=60, env={**os.environ, "TMPDIR": str(tmp_path)})
    assert proc.returncode == 2
    assert "the port must be a number" in one_line_error(proc.stderr)
    assert "Exception ignored" not in proc.stderr


@pytest.mark.parametrize("command", ["leak", "unlearn", "compare-unlearning", "shots"])
@pytest.mark.parametrize("given", ["flag", "flag-first", "environment"])
def test_an_unparseable_address_is_refused_while_the_options_are_read(command, given, run_qaudit, tmp_path,
                                                                      monkeypatch):
    """Checked as the options are read (the executor's optional ``check``), before the command loads anything:
    a model file that does not exist is not reached, in whichever order --scheduler and --executor come."""
    monkeypatch.delenv("QAUDIT_SCHEDULER", raising=False)
    missing = str(tmp_path / "no-such-model.json")
    args = {"flag": [command, missing, "--executor", "dask", "--scheduler", "tcp://host:abc"],
            "flag-first": [command, "--scheduler", "tcp://host:abc", "--executor", "dask", missing],
            "environment": [command, missing]}[given]
    if given == "environment":
        monkeypatch.setenv("QAUDIT_SCHEDULER", "tcp://host:abc")
    code, _, err = run_qaudit(args)
    line = one_line_error(err)
    assert code == 2 and "Dask scheduler address 'tcp://host:abc'" in line and "the port must be a number" in line
    assert "no-such-model" not in line


def test_an_unparseable_address_is_refused_before_the_command_imports_its_modules(tmp_path):
    """The floor (one line within 1 s) rests on this: neither the audit modules nor Cirq nor Dask are imported."""
    probe = ("import sys\nfrom qaudit.cli.app import main\ntry:\n    main()\nexcept SystemExit as exc:\n"
             "    print(exc.code, sorted(m for m in ('qaudit.api', 'qaudit.leak.audit', 'cirq', 'distributed') "
             "if m in sys.modules))")
    env = {k: v for k, v in os.environ.items() if k != "QAUDIT_SCHEDULER"}
    proc = subprocess.run([sys.executable, "-c", probe, "leak", str(tmp_path / "m.json"), "--scheduler", "garbage"],
                          capture_output=True, text=True, timeout=60, env=env)
    assert proc.stdout.split() == ["2", "[]"], proc.stdout + proc.stderr
    assert "Dask scheduler address 'garbage'" in one_line_error(proc.stderr)


def test_an_unknown_executor_with_a_scheduler_is_named_before_the_model_is_read(run_qaudit, tmp_path,
                                                                                monkeypatch):
    monkeypatch.delenv("QAUDIT_SCHEDULER", raising=False)
    code, _, err = run_qaudit(["leak", str(tmp_path / "no-such-model.json"), "--scheduler", "tcp://h:1",
                               "--executor", "slurm"])
    assert code == 2 and "unknown executor 'slurm'" in one_line_error(err)


def _lock_files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.suffix in (".lock", ".dirlock") or p.name == "dask-scratch-space"]


def test_an_interrupted_local_cluster_is_stopped_and_its_scratch_space_removed(tmp_path, monkeypatch):
    """Ctrl-C mid-batch: the executor closes at once, its worker processes are gone and no
    ``dask-scratch-space`` lock file is left in $TMPDIR (every interrupted run left 2-5 before)."""
    _dask()
    import tempfile

    from qaudit_executors.dask_executor import DaskExecutor

    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(tempfile, "tempdir", None)  # re-read $TMPDIR
    ex = DaskExecutor.open(ExecutorSettings(workers=2))
    try:
        scratch = Path(ex.scratch)
        assert scratch.parent == tmp_path and _lock_files(scratch)  # Dask keeps its locks in our folder
        pids = [nanny.process.process.pid for nanny in ex.cluster.workers.values()]

        def interrupt():
            raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            ex.map(time.sleep, [Job((0.1,))] + [Job((30,)) for _ in range(4)], on_done=interrupt)
        assert ex.client is None and ex.cluster is None  # closed on the way out, not left to the caller
    finally:
        ex.close()
    assert not scratch.exists() and not _lock_files(tmp_path)
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def _running(pid: int) -> bool:
    """True while *pid* exists and is not a zombie."""
    stat = subprocess.run(["ps", "-o", "stat=", "-p", str(pid)], capture_output=True, text=True).stdout.strip()
    return stat not in ("", "Z")


def _command(pid: int) -> str:
    return subprocess.run(["ps", "-o", "args=", "-p", str(pid)], capture_output=True, text=True).stdout


def _children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="uses ps and process groups")
@pytest.mark.parametrize("sig,to_group,code,line", [
    (signal.SIGINT, True, 130, "interrupted"),   # Ctrl-C in a terminal reaches the whole process group
    (signal.SIGTERM, False, 143, "terminated"),  # a CI runner or `kill` stops the main process only
])
def test_ctrl_c_and_sigterm_during_a_dask_run(lira_model, tmp_path, sig, to_group, code, line):  # noqa: F811
    """A LiRA audit on a LocalCluster interrupted while its reference models train: one line, the exit code,
    no traceback (Dask's 'Nanny failed to start' and shutdown warnings), no lock files, no worker left.
    (Measured, issue 28: 1.1-1.3 s to exit; before, SIGTERM took 12.8-14.5 s.)"""
    _dask()
    import json

    doc = json.loads(lira_model.read_text())
    doc["config"]["epochs"] = 400  # reference models that train long enough to be interrupted
    slow = tmp_path / "slow.json"
    slow.write_text(json.dumps(doc))
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    out = tmp_path / "leak.json"
    proc = subprocess.Popen([*QAUDIT, "leak", str(slow), "-a", "lira", "-K", "8", "--executor", "dask", "-f", "json",
                             "--output", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, env={**os.environ, "TMPDIR": str(scratch)})
    deadline = time.time() + 120
    while len(_children(proc.pid)) < 3 and time.time() < deadline:  # the resource tracker and two workers
        time.sleep(0.2)
    workers = _children(proc.pid)
    assert len(workers) >= 3, "the LocalCluster never started its workers"
    time.sleep(3)  # the batch is submitted and running
    (os.killpg if to_group else os.kill)(proc.pid, sig)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == code, err[-800:]
    assert err.strip().splitlines()[-1] == line and "Traceback" not in err and "distributed." not in err, err[-800:]
    assert not _lock_files(scratch) and not list(scratch.iterdir())
    assert not out.exists()
    deadline = time.time() + 5  # multiprocessing's resource tracker ends on its own once its parent is gone
    while [w for w in workers if _running(w)] and time.time() < deadline:
        time.sleep(0.1)
    assert not [w for w in workers if _running(w) and "spawn_main" in _command(w)], "workers outlived the command"
