"""The rabbit driver's tests on the lowest and the highest py-amqp and kombu
that setup.cfg allows.

    python3 tests/versions/run_matrix.py [--only lowest|highest] [pytest args...]

setup.cfg bounds both as ``NAME>=LOW,<NEXT_MAJOR``. This builds two venvs
under ``<repo>/.versions/`` (cached; rebuilt when the requirements change):
``lowest`` with ``NAME==LOW`` for both, ``highest`` with the newest
release inside the bounds (upgraded on each run). Each gets the project's
run-time requirements (setup.cfg ``install_requires``) plus pytest,
pytest-timeout and hypothesis, but not the project itself: the tests run
against this worktree's code (``PYTHONPATH`` is the repository root, with
a directory holding only the project's entry points, which stevedore
needs to find the drivers).

The tests, a fixed subset: ``tests/unit/test_rabbit_*.py`` and the rabbit
driver's functional tests in ``FUNCTIONAL`` (a broker on 127.0.0.1:5672,
as for the main suite). Exits non-zero if either venv's run fails.
"""
from __future__ import annotations

import argparse
import configparser
import os
import re
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CACHE = REPO / '.versions'
BOUNDED = ('amqp', 'kombu')
TEST_TOOLS = ('pytest>=7', 'pytest-timeout>=2.1', 'hypothesis>=6')
FUNCTIONAL = ('test_rabbit_driver.py', 'test_rabbit_rpc.py', 'test_rabbit_notify.py',
              'test_hostile_rpc.py', 'test_rabbit_amqp_link.py')
_BOUNDS = re.compile(r'^(?P<name>[A-Za-z0-9_.-]+)>=(?P<low>[0-9.]+),<(?P<high>[0-9.]+)$')


def _setup_cfg() -> configparser.ConfigParser:
    parser = configparser.ConfigParser()
    parser.read(REPO / 'setup.cfg')
    return parser


def requirements(flavour: str) -> list[str]:
    """The install_requires of setup.cfg, with py-amqp and kombu pinned to
    their lowest allowed version (``lowest``) or left at their bounds
    (``highest``: pip then takes the newest release inside them).

    :raises SystemExit: setup.cfg does not bound py-amqp or kombu as
        ``NAME>=LOW,<HIGH``.
    """
    lines = [line.strip() for line in
             _setup_cfg()['options']['install_requires'].splitlines() if line.strip()]
    out = []
    for line in lines:
        name = re.split(r'[<>=!~ ;\[]', line, maxsplit=1)[0]
        if name.lower() in BOUNDED:
            bounds = _BOUNDS.match(line.replace(' ', ''))
            if bounds is None:
                raise SystemExit('setup.cfg must bound %s as %s>=LOW,<HIGH, not %r'
                                 % (name, name, line))
            line = '%s==%s' % (name, bounds['low']) if flavour == 'lowest' else line
        out.append(line)
    return out + list(TEST_TOOLS)


def _entry_points(directory: Path) -> None:
    """A dist-info holding only setup.cfg's entry points, so that the
    drivers are found without installing the project."""
    info = directory / 'messaging_worktree-0.dist-info'
    info.mkdir(parents=True, exist_ok=True)
    (info / 'METADATA').write_text('Metadata-Version: 2.1\nName: messaging-worktree\n'
                                   'Version: 0\n')
    points = configparser.ConfigParser()
    for group, text in _setup_cfg()['options.entry_points'].items():
        entries = [line.strip() for line in text.splitlines() if line.strip()]
        points[group] = dict(entry.split(' = ', 1) for entry in entries)
    with open(info / 'entry_points.txt', 'w') as out:
        points.write(out)


def venv(flavour: str) -> Path:
    """The venv of ``flavour``, built or brought up to date."""
    home = CACHE / flavour
    python = home / 'bin' / 'python'
    wanted = requirements(flavour)
    stamp = home / 'requirements.txt'
    if not python.exists():
        subprocess.run([sys.executable, '-m', 'venv', str(home)], check=True)
    pip = [str(python), '-m', 'pip', 'install', '--quiet', '--disable-pip-version-check']
    if not stamp.exists() or stamp.read_text() != '\n'.join(wanted):
        subprocess.run(pip + wanted, check=True)
        stamp.write_text('\n'.join(wanted))
    elif flavour == 'highest':
        subprocess.run(pip + ['--upgrade'] + [line for line in wanted if re.match(
            r'(%s)\b' % '|'.join(BOUNDED), line)], check=True)
    _entry_points(home / 'entry-points')
    return home


def run(flavour: str, pytest_args: list[str]) -> int:
    """Run the test subset in the venv of ``flavour``; pytest's exit code."""
    home = venv(flavour)
    python = str(home / 'bin' / 'python')
    versions = subprocess.run(
        [python, '-c', 'import amqp, kombu; print("amqp", amqp.__version__, '
                       '"kombu", kombu.__version__)'],
        check=True, capture_output=True, text=True).stdout.strip()
    tests = sorted(str(path.relative_to(REPO))
                   for path in (REPO / 'tests' / 'unit').glob('test_rabbit_*.py'))
    tests += ['tests/functional/' + name for name in FUNCTIONAL]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(REPO), str(home / 'entry-points')]))
    print('\n=== %s: %s' % (flavour, versions), flush=True)
    started = time.monotonic()
    code = subprocess.run([python, '-m', 'pytest', '-q', '-p', 'no:cacheprovider', *tests,
                           *pytest_args], cwd=REPO, env=env).returncode
    print('=== %s: pytest exit %d after %.0f s' % (flavour, code,
                                                  time.monotonic() - started), flush=True)
    return code


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--only', choices=('lowest', 'highest'))
    args, pytest_args = parser.parse_known_args()
    flavours = [args.only] if args.only else ['lowest', 'highest']
    failed = [flavour for flavour in flavours if run(flavour, pytest_args) != 0]
    if failed:
        print('version matrix failed on: %s' % ', '.join(failed))
        return 1
    print('version matrix passed on: %s' % ', '.join(flavours))
    return 0


if __name__ == '__main__':
    sys.exit(main())
