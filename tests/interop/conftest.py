"""Fixtures for the interop suite: an interpreter with oslo.messaging, and peers.

oslo.messaging never enters this process or the project's dependencies: it
runs in another interpreter, found in this order:

1. ``MESSAGING_INTEROP_PYTHON``, an interpreter that can import it;
2. ``<repo>/.interop-venv`` (``$MESSAGING_CACHE/interop-venv`` when
   ``MESSAGING_CACHE`` is set, as CI does), created (or brought to the pinned
   version) on first use with ``python3 -m venv`` and
   ``pip install oslo.messaging==18.3.1``, under a file lock beside it.

Without one (or without a broker) the tests fail in CI (``CI`` set) and skip
elsewhere, with the reason. The interpreter is looked for (and the venv built)
once collection is over, so that the pip run does not count against the
first test's timeout.
"""
from __future__ import annotations

import fcntl
import glob
import os
import subprocess
import sys
from pathlib import Path
from typing import Optional

import pytest

from tests.functional.conftest import rabbit_url  # noqa: F401  (fixture)
from tests.interop.harness import CONFIGURATIONS, RUN_HOSTNAME, with_query

INTEROP_DIR = Path(__file__).resolve().parent
REPO = INTEROP_DIR.parents[1]
# Where the oslo venvs are built: the repository, or a folder shared by
# checkouts (CI: one of the machine's, kept between runs).
CACHE_ENV = 'MESSAGING_CACHE'
VENV_HOME = Path(os.environ[CACHE_ENV]) if os.environ.get(CACHE_ENV) else None
VENV = VENV_HOME / 'interop-venv' if VENV_HOME else REPO / '.interop-venv'
VENV_LOCK = VENV.with_name(VENV.name + '.lock')
OSLO_VERSION = '18.3.1'
OSLO_REQUIREMENT = 'oslo.messaging==' + OSLO_VERSION
# oslo_messaging.conffixture imports fixtures; the same-answer tests compare ConfFixture.
OSLO_TEST_REQUIREMENT = 'fixtures'
PYTHON_ENV = 'MESSAGING_INTEROP_PYTHON'
VENV_BUILD_TIMEOUT = 900
_PYTHON_KEY = pytest.StashKey[tuple]()
TRACING_PYTHON_ENV = 'MESSAGING_OBSERVE_OSLO_PYTHON'
TRACING_VENV = VENV_HOME / 'observe-venv' if VENV_HOME else REPO / '.observe-venv'
_TRACING_PYTHON_KEY = pytest.StashKey[tuple]()


# The endpoints and their exception module must have the same module names
# here as in the oslo peer (``peer_exceptions``, not
# ``tests.interop.peer_exceptions``), or rebuilt exceptions would differ.
sys.path.insert(0, str(INTEROP_DIR))


def _oslo_version(python: str, probe: str = 'pass') -> Optional[str]:
    """The oslo.messaging version ``python`` can import (after running
    ``probe``), or None."""
    try:
        out = subprocess.run(
            [python, '-c', probe + '; from importlib import metadata; import oslo_messaging; '
                           'print(metadata.version("oslo.messaging"))'],
            capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def _build_venv(venv: Path, requirements: tuple) -> Optional[str]:
    """Create ``venv`` with ``requirements``; the reason it failed, or None."""
    python = str(venv / 'bin' / 'python')
    steps = [[sys.executable, '-m', 'venv', str(venv)],
             [python, '-m', 'pip', 'install', '--quiet', '--disable-pip-version-check',
              *requirements]]
    for step in steps:
        try:
            out = subprocess.run(step, capture_output=True, text=True,
                                 timeout=VENV_BUILD_TIMEOUT)
        except (OSError, subprocess.TimeoutExpired) as ex:
            return '%s failed: %s' % (' '.join(step[:4]), ex)
        if out.returncode:
            return '%s failed: %s' % (' '.join(step[:4]), (out.stderr or out.stdout)[-800:])
    return None


def find_oslo_python(env_var: str = PYTHON_ENV, venv: Path = VENV,
                     requirements: tuple = (OSLO_REQUIREMENT, OSLO_TEST_REQUIREMENT),
                     probe: str = 'import fixtures') -> tuple[Optional[str], str]:
    """``(interpreter, description)``, or ``(None, reason)`` when there is none.

    ``probe`` is more Python the interpreter must run (an import the venv
    must offer beyond oslo.messaging).
    """
    python = os.environ.get(env_var)
    if python:
        version = _oslo_version(python, probe)
        if version is None:
            return None, '%s=%s cannot import oslo_messaging' % (env_var, python)
        return python, 'oslo.messaging %s from %s' % (version, python)
    python = str(venv / 'bin' / 'python')
    # Two test runs starting together must not build the venv at once.
    VENV_LOCK.parent.mkdir(parents=True, exist_ok=True)
    with open(VENV_LOCK, 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _oslo_version(python, probe) != OSLO_VERSION:
            failure = _build_venv(venv, requirements)
            if failure:
                return None, 'could not create %s with %s: %s' % (
                    venv, ' '.join(requirements), failure)
    version = _oslo_version(python, probe)
    if version is None:
        return None, '%s cannot import oslo_messaging' % python
    return python, 'oslo.messaging %s from %s' % (version, python)


def find_oslo_tracing_python() -> tuple[Optional[str], str]:
    """An interpreter with oslo.messaging and the OpenTelemetry SDK, for
    the observability tests: ``MESSAGING_OBSERVE_OSLO_PYTHON``, else
    ``<repo>/.observe-venv`` (``$MESSAGING_CACHE/observe-venv``; built on
    first use)."""
    return find_oslo_python(TRACING_PYTHON_ENV, TRACING_VENV,
                            (OSLO_REQUIREMENT, 'opentelemetry-sdk'),
                            'import opentelemetry.sdk.trace')


def pytest_collection_finish(session: pytest.Session) -> None:
    """Find (or build) the oslo interpreters if any interop test will run."""
    interop = [item for item in session.items if item.get_closest_marker('interop')]
    reporter = session.config.pluginmanager.get_plugin('terminalreporter')
    if interop:
        session.config.stash[_PYTHON_KEY] = find_oslo_python()
        if reporter is not None:
            reporter.write_line('interop: %s' % session.config.stash[_PYTHON_KEY][1])
    if any(item.get_closest_marker('oslo_tracing') for item in interop):
        session.config.stash[_TRACING_PYTHON_KEY] = find_oslo_tracing_python()
        if reporter is not None:
            reporter.write_line('interop tracing: %s'
                                % session.config.stash[_TRACING_PYTHON_KEY][1])


def fail_or_skip(reason: str) -> None:
    """A missing prerequisite fails the test in CI and skips it elsewhere."""
    if os.environ.get('CI'):
        pytest.fail(reason)
    pytest.skip(reason)


def _stashed_python(config, key, find, what: str) -> str:
    """The interpreter ``find()`` gives, looked for once per session."""
    if key not in config.stash:
        config.stash[key] = find()
    python, description = config.stash[key]
    if python is None:
        fail_or_skip('%s is not available: %s' % (what, description))
    return python


@pytest.fixture(scope='session')
def oslo_python(request) -> str:
    """An interpreter that runs oslo.messaging 18.3.1."""
    return _stashed_python(request.config, _PYTHON_KEY, find_oslo_python, 'oslo.messaging')


@pytest.fixture(scope='session')
def oslo_tracing_python(request) -> str:
    """An interpreter that runs oslo.messaging 18.3.1 with the OpenTelemetry SDK."""
    return _stashed_python(request.config, _TRACING_PYTHON_KEY, find_oslo_tracing_python,
                           'oslo.messaging with OpenTelemetry')


@pytest.fixture(scope='session', autouse=True)
def queue_manager_lock_path(tmp_path_factory):
    """OSLO_LOCK_PATH for the queue manager of both libraries (the oslo
    peers inherit it); the run's counter files are removed at the end."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv('OSLO_LOCK_PATH', str(tmp_path_factory.mktemp('oslo_locks')))
        yield
    for counter in glob.glob('/dev/shm/%s_*_qmanager' % RUN_HOSTNAME):
        os.unlink(counter)


@pytest.fixture(scope='module')
def configuration(request) -> str:
    """The configuration the module's peers run under: ``classic`` (the
    option defaults) unless the module asks for both."""
    return getattr(request, 'param', 'classic')


@pytest.fixture(scope='module')
def module_peers(oslo_python, rabbit_url, configuration):  # noqa: F811
    """A PeerGroup for the module: its peers start once and stop at the end."""
    from tests.interop.harness import PeerGroup

    group = PeerGroup(oslo_python, with_query(rabbit_url, CONFIGURATIONS[configuration]))
    yield group
    group.close()


@pytest.fixture
def peers(oslo_python, rabbit_url, configuration):  # noqa: F811
    """A PeerGroup for one test, under the module's configuration."""
    from tests.interop.harness import PeerGroup

    group = PeerGroup(oslo_python, with_query(rabbit_url, CONFIGURATIONS[configuration]))
    yield group
    group.close()
