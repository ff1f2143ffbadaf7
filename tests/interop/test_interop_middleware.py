"""Same answer: oslo.messaging's RequestNotifier and ours notify the same things."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.interop

SNIPPET = Path(__file__).resolve().parent / 'middleware_snippet.py'
REPO = SNIPPET.parents[2]


def observe(python: str, package: str) -> list:
    env = dict(os.environ, PYTHONPATH=str(REPO)) if package == 'messaging' else None
    done = subprocess.run([python, str(SNIPPET), package], capture_output=True, text=True,
                          cwd=str(REPO) if env else '/', env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_request_notifier_sends_what_oslos_sends(oslo_python):
    theirs = observe(oslo_python, 'oslo_messaging')
    ours = observe(sys.executable, 'messaging')
    assert [entry['event_type'] for entry in theirs] == [
        'http.request', 'http.response', 'http.request', 'http.response']
    assert ours == theirs
