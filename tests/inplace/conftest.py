"""Fixtures for the in-place tests: messaging and inplace/ really installed.

The wheels of both distributions are built once per session and installed
with ``--no-deps`` into a venv of their own (whose path lists this
interpreter's site-packages after its own, so their dependencies come from
the environment running the tests, itself a venv or not) or into a plain
directory: nothing is installed into the interpreter running the tests.
"""
from __future__ import annotations

import json
import os
import site
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.interop.conftest import oslo_python  # noqa: F401  (fixture)

REPO = Path(__file__).resolve().parents[2]
PIP_TIMEOUT = 600
PIP = ['-m', 'pip', '--disable-pip-version-check', '--no-input']


def pytest_collection_modifyitems(items):
    for item in items:
        if Path(str(item.fspath)).parent == Path(__file__).parent:
            item.add_marker(pytest.mark.inplace)


def _pip(python: str, *args: str) -> None:
    done = subprocess.run([python, *PIP, *args], capture_output=True, text=True,
                          timeout=PIP_TIMEOUT)
    if done.returncode != 0:
        raise RuntimeError('pip %s failed:\n%s%s' % (' '.join(args), done.stdout, done.stderr))


@pytest.fixture(scope='session')
def wheels(tmp_path_factory) -> dict[str, Path]:
    """{'messaging': wheel, 'oslo.messaging': wheel}, built from this checkout."""
    out = tmp_path_factory.mktemp('inplace-wheels')
    _pip(sys.executable, 'wheel', '--quiet', '--no-deps', '-w', str(out),
         str(REPO), str(REPO / 'inplace'))
    return {'messaging': next(out.glob('messaging-*.whl')),
            'oslo.messaging': next(out.glob('oslo_messaging-*.whl'))}


@pytest.fixture(scope='session')
def inplace_python(wheels, tmp_path_factory) -> str:
    """A venv's python with messaging and the in-place oslo.messaging installed."""
    venv = tmp_path_factory.mktemp('inplace-venv')
    subprocess.run([sys.executable, '-m', 'venv', str(venv)], check=True, timeout=PIP_TIMEOUT)
    python = str(venv / 'bin' / 'python')
    # Not --system-site-packages: inside a venv that names the base
    # interpreter's packages, not this environment's. Plain path lines (no
    # .pth processing there) also keep a checkout installed in develop mode
    # here from shadowing the wheels.
    own = subprocess.run([python, '-c', 'import sysconfig; print(sysconfig.get_path("purelib"))'],
                         capture_output=True, text=True, check=True, timeout=60).stdout.strip()
    Path(own, 'outer-environment.pth').write_text(
        ''.join(path + '\n' for path in site.getsitepackages()))
    _pip(python, 'install', '--quiet', '--no-deps', *map(str, wheels.values()))
    return python


@pytest.fixture(scope='session')
def messaging_only_dir(wheels, tmp_path_factory) -> Path:
    """A directory with messaging alone installed in it (``pip --target``)."""
    target = tmp_path_factory.mktemp('messaging-only')
    _pip(sys.executable, 'install', '--quiet', '--no-deps', '--target', str(target),
         str(wheels['messaging']))
    return target


@pytest.fixture(scope='session')
def thirdparty_dir(tmp_path_factory) -> Path:
    """An installed distribution registering plugins under oslo.messaging's
    namespaces, as third parties do: a notification and a transport driver."""
    root = tmp_path_factory.mktemp('thirdparty')
    (root / 'thirdparty_plugins.py').write_text(textwrap.dedent('''
        from oslo_messaging.notify import notifier

        SENT = []
        BUILT = []


        class NotifyDriver(notifier.Driver):
            def notify(self, ctxt, message, priority, retry):
                SENT.append([message['event_type'], priority])


        class TransportDriver:
            def __init__(self, conf, url, default_exchange=None,
                         allowed_remote_exmods=None):
                self.conf = conf
                BUILT.append(url.transport)

            def cleanup(self):
                pass
        '''))
    dist_info = root / 'thirdparty_plugins-1.0.dist-info'
    dist_info.mkdir()
    (dist_info / 'METADATA').write_text(
        'Metadata-Version: 2.1\nName: thirdparty-plugins\nVersion: 1.0\n')
    (dist_info / 'entry_points.txt').write_text(
        '[oslo.messaging.notify.drivers]\nthirdparty = thirdparty_plugins:NotifyDriver\n\n'
        '[oslo.messaging.drivers]\nthirdparty = thirdparty_plugins:TransportDriver\n')
    return root


def run_python(python: str, code: str, pythonpath: tuple = (), cwd: str = '/') -> object:
    """Run ``code`` in a fresh ``python`` (outside the checkout, so the
    installed copy is imported); what it printed last, decoded from JSON."""
    env = dict(os.environ)
    env.pop('PYTHONPATH', None)
    if pythonpath:
        env['PYTHONPATH'] = os.pathsep.join(str(path) for path in pythonpath)
    done = subprocess.run([python, '-c', textwrap.dedent(code)], capture_output=True,
                          text=True, env=env, cwd=cwd, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])
