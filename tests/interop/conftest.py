"""Fixtures for the interop suite: an interpreter with oslo.messaging, and peers.

oslo.messaging never enters this process or the project's dependencies: it
runs in another interpreter, found in this order:

1. ``MESSAGING_INTEROP_PYTHON``, an interpreter that can import it;
2. ``<repo>/.interop-venv``, created (or brought to the pinned version) on
   first use with ``python3 -m venv`` and ``pip install oslo.messaging==18.3.1``.

Without one (or without a broker) the tests fail in CI (``CI`` set) and skip
elsewhere, with the reason. The interpreter is looked for (and the venv built)
once collection is over, so that the pip run does not count against the
first test's timeout.
"""
from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from pathlib import Path
from typing import Optional

import pytest

from tests.functional.conftest import rabbit_url  # noqa: F401  (fixture)

INTEROP_DIR = Path(__file__).resolve().parent
REPO = INTEROP_DIR.parents[1]
VENV = REPO / '.interop-venv'
VENV_LOCK = REPO / '.interop-venv.lock'
OSLO_VERSION = '18.3.1'
OSLO_REQUIREMENT = 'oslo.messaging==' + OSLO_VERSION
PYTHON_ENV = 'MESSAGING_INTEROP_PYTHON'
VENV_BUILD_TIMEOUT = 900
_PYTHON_KEY = pytest.StashKey[tuple]()

# The endpoints and their exception module must have the same module names
# here as in the oslo peer (``peer_exceptions``, not
# ``tests.interop.peer_exceptions``), or rebuilt exceptions would differ.
sys.path.insert(0, str(INTEROP_DIR))


def _oslo_version(python: str) -> Optional[str]:
    """The oslo.messaging version ``python`` can import, or None."""
    try:
        out = subprocess.run(
            [python, '-c', 'from importlib import metadata; import oslo_messaging; '
                           'print(metadata.version("oslo.messaging"))'],
            capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def _build_venv() -> Optional[str]:
    """Create VENV with oslo.messaging; the reason it failed, or None."""
    python = str(VENV / 'bin' / 'python')
    steps = [[sys.executable, '-m', 'venv', str(VENV)],
             # fixtures: oslo_messaging.conffixture imports it, and the
             # same-answer tests compare ConfFixture.
             [python, '-m', 'pip', 'install', '--quiet', '--disable-pip-version-check',
              OSLO_REQUIREMENT, 'fixtures']]
    for step in steps:
        try:
            out = subprocess.run(step, capture_output=True, text=True,
                                 timeout=VENV_BUILD_TIMEOUT)
        except (OSError, subprocess.TimeoutExpired) as ex:
            return '%s failed: %s' % (' '.join(step[:4]), ex)
        if out.returncode:
            return '%s failed: %s' % (' '.join(step[:4]), (out.stderr or out.stdout)[-800:])
    return None


def find_oslo_python() -> tuple[Optional[str], str]:
    """``(interpreter, description)``, or ``(None, reason)`` when there is none."""
    python = os.environ.get(PYTHON_ENV)
    if python:
        version = _oslo_version(python)
        if version is None:
            return None, '%s=%s cannot import oslo_messaging' % (PYTHON_ENV, python)
        return python, 'oslo.messaging %s from %s' % (version, python)
    python = str(VENV / 'bin' / 'python')
    # Two test runs starting together must not build the venv at once.
    with open(VENV_LOCK, 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _oslo_version(python) != OSLO_VERSION:
            failure = _build_venv()
            if failure:
                return None, 'could not create %s with %s: %s' % (
                    VENV, OSLO_REQUIREMENT, failure)
    version = _oslo_version(python)
    if version is None:
        return None, '%s cannot import oslo_messaging' % python
    return python, 'oslo.messaging %s from %s' % (version, python)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Find (or build) the oslo interpreter if any interop test will run."""
    if any(item.get_closest_marker('interop') for item in session.items):
        session.config.stash[_PYTHON_KEY] = find_oslo_python()
        reporter = session.config.pluginmanager.get_plugin('terminalreporter')
        if reporter is not None:
            reporter.write_line('interop: %s' % session.config.stash[_PYTHON_KEY][1])


def fail_or_skip(reason: str) -> None:
    """A missing prerequisite fails the test in CI and skips it elsewhere."""
    if os.environ.get('CI'):
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope='session')
def oslo_python(request) -> str:
    """An interpreter that runs oslo.messaging 18.3.1."""
    stash = request.config.stash
    if _PYTHON_KEY not in stash:
        stash[_PYTHON_KEY] = find_oslo_python()
    python, description = stash[_PYTHON_KEY]
    if python is None:
        fail_or_skip('oslo.messaging is not available: %s' % description)
    return python


@pytest.fixture(scope='module')
def module_peers(oslo_python, rabbit_url):  # noqa: F811
    """A PeerGroup for the module: its peers start once and stop at the end."""
    from tests.interop.harness import PeerGroup

    group = PeerGroup(oslo_python, rabbit_url)
    yield group
    group.close()


@pytest.fixture
def peers(oslo_python, rabbit_url):  # noqa: F811
    """A PeerGroup for one test."""
    from tests.interop.harness import PeerGroup

    group = PeerGroup(oslo_python, rabbit_url)
    yield group
    group.close()
