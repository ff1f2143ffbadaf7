"""Run one snippet under oslo.messaging 18.3.1 and under ``messaging``; compare.

A same-answer test is a snippet of code written against oslo.messaging's
public API (see :mod:`tests.sameanswer.snippet_worker` for the names it can
use). It runs under both libraries, each in a process of its own, and the
test asserts that both observed the same things. A new difference from
oslo.messaging is found by adding a snippet.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import NamedTuple

REPO = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).resolve().with_name('snippet_worker.py')
SNIPPET_TIMEOUT = 60


class SnippetRunner:
    """A worker process for one library that runs snippets on request."""

    def __init__(self, python: str, library: str) -> None:
        self.library = library
        env = dict(os.environ)
        # Ours runs from the checkout; the oslo interpreter must not see it.
        env['PYTHONPATH'] = str(REPO) if library == 'messaging' else ''
        self._proc = subprocess.Popen(
            [python, str(WORKER), library], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, text=True, cwd=str(REPO) if library == 'messaging' else '/',
            env=env, start_new_session=True)
        self._lock = threading.Lock()

    def run(self, code: str) -> dict:
        """The snippet's observations; fails the test if the snippet broke."""
        with self._lock:
            self._proc.stdin.write(json.dumps({'code': textwrap.dedent(code)}) + '\n')
            self._proc.stdin.flush()
            line = _readline(self._proc, SNIPPET_TIMEOUT)
        if not line:
            raise AssertionError('the %s snippet worker exited' % self.library)
        answer = json.loads(line)
        if 'error' in answer:
            raise AssertionError('the snippet failed under %s:\n%s'
                                 % (self.library, answer['error']))
        return answer['observations']

    def close(self) -> None:
        self._proc.stdin.close()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            _kill_group(self._proc)


def _kill_group(proc: subprocess.Popen) -> None:
    """Kill the worker and the child running its snippet (its own process
    group): a snippet that never ends must not outlive the test."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def _readline(proc: subprocess.Popen, timeout: float) -> str:
    result: list[str] = []
    reader = threading.Thread(target=lambda: result.append(proc.stdout.readline()),
                              daemon=True)
    reader.start()
    reader.join(timeout)
    if reader.is_alive():
        _kill_group(proc)
        raise AssertionError('a snippet did not finish within %s s' % timeout)
    return result[0]


class Answers(NamedTuple):
    """What each library observed running one snippet."""

    ours: dict
    oslo: dict


class SameAnswer:
    """Runs a snippet under both libraries and asserts equal observations."""

    def __init__(self, oslo_python: str) -> None:
        self.ours = SnippetRunner(sys.executable, 'messaging')
        self.oslo = SnippetRunner(oslo_python, 'oslo_messaging')

    def __call__(self, code: str) -> dict:
        oslo = self.oslo.run(code)
        ours = self.ours.run(code)
        assert ours == oslo, _difference(ours, oslo)
        return ours

    def separately(self, code: str) -> Answers:
        """Each library's observations of ``code``, not compared.

        For a documented difference of behaviour: the test asserts what each
        side observed, so that it fails if either library stops differing in
        the way the documentation says.
        """
        return Answers(ours=self.ours.run(code), oslo=self.oslo.run(code))

    def close(self) -> None:
        self.ours.close()
        self.oslo.close()


def _difference(ours: dict, oslo: dict) -> str:
    lines = ['messaging and oslo.messaging observed different things:']
    for key in sorted(set(ours) | set(oslo), key=str):
        if ours.get(key, '<absent>') != oslo.get(key, '<absent>'):
            lines.append('  %s: ours %r, oslo %r' % (key, ours.get(key, '<absent>'),
                                                    oslo.get(key, '<absent>')))
    return '\n'.join(lines)
