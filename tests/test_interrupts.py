"""Ctrl-C and SIGTERM during a long audit (issue 14): one line, exit 130/143 within 2 s, and no worker
process outlives the command."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="uses /proc and process groups")


@pytest.fixture(scope="module")
def slow_model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("interrupt")
    subprocess.run([sys.executable, "-c", "from qaudit.cli.app import main; main()", "train", "--qubits", "6",
                    "--layers", "4", "--epochs", "300", "--n-train", "600", "--n-holdout", "300", "--out",
                    str(folder / "m.json")], check=True, capture_output=True, timeout=300)
    return folder / "m.json"


def _running(pid: int) -> bool:
    """True while *pid* exists and is not a zombie (an exited process waiting to be reaped)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


@pytest.mark.parametrize("sig,to_group,code,line", [
    (signal.SIGINT, True, 130, "interrupted"),   # Ctrl-C in a terminal reaches the whole process group
    (signal.SIGTERM, False, 143, "terminated"),  # a CI runner or `kill` stops the main process only
])
def test_interrupt_stops_workers_within_two_seconds(slow_model, tmp_path, sig, to_group, code, line):
    out = tmp_path / "leak.json"
    proc = subprocess.Popen([sys.executable, "-c", "from qaudit.cli.app import main; main()", "leak", str(slow_model),
                             "-a", "lira", "-K", "8", "--jobs", "2", "-f", "json", "--output", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.time() + 60
    while len(_children(proc.pid)) < 2 and time.time() < deadline:  # wait until the workers run
        time.sleep(0.2)
    workers = _children(proc.pid)
    assert workers, "the audit never started worker processes"
    start = time.time()
    (os.killpg if to_group else os.kill)(proc.pid, sig)
    _, err = proc.communicate(timeout=30)
    assert time.time() - start < 2.0 and proc.returncode == code, (proc.returncode, err[-500:])
    assert err.strip().splitlines()[-1] == line and "Traceback" not in err
    while any(_running(w) for w in workers) and time.time() - start < 2.0:
        time.sleep(0.05)
    assert not [w for w in workers if _running(w)], "worker processes outlived the command by 2 s"
    assert not out.exists()  # no partial output


def test_ctrl_c_while_workers_start_is_not_lost(slow_model, tmp_path):
    """Ctrl-C that arrives while the worker processes are being spawned (the main process used to ignore
    SIGINT in that window, so the audit ran to the end and exited 0): exit 130, every time."""
    for trial in range(4):
        out = tmp_path / f"leak{trial}.json"
        proc = subprocess.Popen([sys.executable, "-c", "from qaudit.cli.app import main; main()", "leak",
                                 str(slow_model), "-a", "lira", "-K", "8", "--jobs", "2", "-f", "json", "--output",
                                 str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                start_new_session=True)
        deadline = time.time() + 60
        while len(_children(proc.pid)) < 2 and time.time() < deadline:  # the first worker is starting
            time.sleep(0.02)
        os.killpg(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 130, (trial, proc.returncode, err[-300:])
        assert not out.exists()



NAP_TESTS = """
import os, signal, sys, threading
import pytest
from qaudit import hookimpl

QAUDIT_API = "2"


@hookimpl
def register_commands(app):
    @app.command("nap")
    def nap():
        threading.Timer(0.5, os.kill, (os.getpid(), signal.SIG)).start()  # as `timeout -s SIG ...` would
        threading.Event().wait(30)


@pytest.fixture
def qaudit_plugins():
    return {"nap": sys.modules[__name__]}  # this test module is the plugin


def test_first(cli_runner):
    cli_runner.invoke(["nap"])


def test_second():
    open(os.environ["MARKER"], "w").close()  # must never run: the signal stopped the session
"""


@pytest.mark.parametrize("sig", ["SIGINT", pytest.param("SIGTERM", marks=pytest.mark.slow)])
def test_a_signal_during_an_in_process_cli_run_stops_pytest(tmp_path, sig):
    """The in-process runner (qaudit.sdk.testing) must not swallow Ctrl-C / `timeout`: the CLI's boundary turns a
    signal into exit 130/143 for a user, but inside pytest the session has to stop (issue 27 item 6)."""
    (tmp_path / "test_nap.py").write_text(NAP_TESTS.replace("SIG", sig))
    marker = tmp_path / "second-ran"
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=",
                           str(tmp_path / "test_nap.py")], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120, env={**os.environ, "MARKER": str(marker)})
    assert proc.returncode == 2 and "KeyboardInterrupt" in proc.stdout + proc.stderr, proc.stdout[-800:]
    assert not marker.exists(), "pytest went on to the next test after the signal"


def test_running_a_command_in_process_leaves_the_sigterm_handler_as_it_was():
    """`timeout` sends SIGTERM: a test session (or notebook) that ran `qaudit.cli.app.run` must still stop on it.
    Before issue 27 `run` installed qaudit's SIGTERM handler for good, and `timeout 20 pytest` ran for minutes."""
    from qaudit.cli.app import run

    def mine(signum, frame):  # pragma: no cover - never delivered
        raise AssertionError

    previous = signal.signal(signal.SIGTERM, mine)
    try:
        assert run(["backends", "--json"]) == 0
        assert signal.getsignal(signal.SIGTERM) is mine
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_a_sigterm_during_an_in_process_command_is_handed_back_to_the_caller(tmp_path):
    """The command still ends as qaudit ends on SIGTERM (cleanup, exit 143), and then the caller's own handler
    gets the signal: a test session under `timeout` stops instead of running on (CI saw 124 s for `timeout 20`)."""
    import threading

    from qaudit.cli.app import run

    got = []
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: got.append(signum))
    timer = threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGTERM))
    try:
        timer.start()
        code = run(["train", "--qubits", "4", "--layers", "1", "--epochs", "10000", "--n-train", "100",
                    "--n-holdout", "100", "--out", str(tmp_path / "m.json")])
    finally:
        timer.cancel()
        signal.signal(signal.SIGTERM, previous)
    assert code == 143
    assert got == [signal.SIGTERM]
