"""Run the ``messaging`` command as a subprocess, the way a person would."""
from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
COMMAND = [sys.executable, '-m', 'messaging.cli']


def run_cli(*args: str, timeout: float = 30, cwd: Path = REPO
            ) -> subprocess.CompletedProcess:
    """Run ``messaging ARGS`` in ``cwd`` to completion; stdout and stderr as
    text. Raises ``subprocess.TimeoutExpired`` past ``timeout`` seconds."""
    return subprocess.run(COMMAND + list(args), capture_output=True, text=True,
                          timeout=timeout, cwd=cwd, env=_env())


def start_cli(*args: str, cwd: Path = REPO) -> subprocess.Popen:
    """Start ``messaging ARGS`` in the background (serve, listen) in ``cwd``.

    It takes SIGINT as from a terminal, even when the tests run where
    SIGINT is ignored (a shell's background job), which it would inherit.
    """
    return subprocess.Popen(COMMAND + list(args), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=cwd, env=_env(),
                            preexec_fn=_default_sigint)


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class LineReader:
    """Reads a subprocess stream on a thread so a test can wait with a deadline."""

    def __init__(self, stream) -> None:
        self._lines: queue.Queue = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._pump, args=(stream,), daemon=True).start()

    def _pump(self, stream) -> None:
        for line in stream:
            self._lines.put(line)
        self._lines.put(None)

    def wait_for(self, needle: str, timeout: float = 20) -> str:
        """The next line containing ``needle``; fails after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            try:
                line = self._lines.get(timeout=max(left, 0.001))
            except queue.Empty:
                line = None
            if line is None:
                raise AssertionError('no line containing %r within %ss; saw: %s'
                                     % (needle, timeout, ''.join(self.seen)[-2000:]))
            self.seen.append(line)
            if needle in line:
                return line


def stop(process: subprocess.Popen, timeout: float = 20) -> int:
    """SIGTERM the process and return its exit status (killed if it hangs)."""
    if process.poll() is None:
        process.terminate()
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise AssertionError('the command did not stop within %ss of SIGTERM' % timeout)


def _env() -> dict:
    env = dict(os.environ)
    env['PYTHONPATH'] = str(REPO) + os.pathsep + env.get('PYTHONPATH', '')
    return env
