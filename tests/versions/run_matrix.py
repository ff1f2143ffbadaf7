"""The rabbit driver's tests on every minor release of py-amqp and kombu
that setup.cfg allows.

    python3 tests/versions/run_matrix.py [--cache DIR] [--list]
                                         [--only NAME ...] [pytest args...]

setup.cfg bounds both as ``NAME>=LOW,<NEXT_MAJOR``. The releases inside the
bounds are read from the package index (``pip index versions``) on each
run, and each minor series of each package is tested at least once: the
lowest series with LOW itself, every later series with its newest release.
The two lists are paired in order, oldest with oldest, and each pair is
checked against the ``amqp`` requirement kombu's wheel declares (kombu 5.7
wants amqp>=5.4.2), so that every pair is installable; the first pair is
``lowest`` (LOW of both), the last ``highest`` (the newest of both). Every
pair runs on the default (lean) frame engine; ``highest`` also runs once
on the stock engine (``MESSAGING_TEST_FRAME_ENGINE=stock``, its own row,
``highest-stock``, in the same venv). ``--list`` prints the pairs and stops.

Each pair gets a venv of its own, named by its two versions, with the
project's run-time requirements (setup.cfg ``install_requires``, py-amqp and
kombu pinned to the pair) plus pytest, pytest-timeout and hypothesis, but not
the project itself: the tests run against this worktree's code
(``PYTHONPATH`` is the repository root, with a directory holding only the
project's entry points, which stevedore needs to find the drivers). The
venvs are kept in ``--cache``: by default ``$MESSAGING_CACHE/versions`` when
``MESSAGING_CACHE`` is set (CI sets it to a folder of the machine), else
``<repo>/.versions``. A venv is built under a file lock (two runs at once
build it once), rebuilt when its requirements or the interpreter change,
and never changed afterwards.

The tests, a fixed subset: ``tests/unit/test_rabbit_*.py`` and the rabbit
driver's functional tests in ``FUNCTIONAL`` (a broker on 127.0.0.1:5672,
as for the main suite). A table of the pairs and their results ends the
output; exits non-zero if any pair failed to install or to pass.
"""
from __future__ import annotations

import argparse
import configparser
import fcntl
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ElementTree
import zipfile
from pathlib import Path
from typing import Optional

REPO = Path(__file__).resolve().parents[2]
CACHE_ENV = 'MESSAGING_CACHE'
BOUNDED = ('amqp', 'kombu')
TEST_TOOLS = ('pytest>=7', 'pytest-timeout>=2.1', 'hypothesis>=6')
# The frame engine of every pair, and the one ``highest`` also runs on.
ENGINE_VARIABLE = 'MESSAGING_TEST_FRAME_ENGINE'
DEFAULT_ENGINE, OTHER_ENGINE = 'lean', 'stock'
FUNCTIONAL = ('test_rabbit_driver.py', 'test_rabbit_rpc.py', 'test_rabbit_notify.py',
              'test_hostile_rpc.py', 'test_rabbit_amqp_link.py')
PIP_TIMEOUT = 900
_BOUNDS = re.compile(r'^(?P<name>[A-Za-z0-9_.-]+)>=(?P<low>[0-9.]+),<(?P<high>[0-9.]+)$')
_CLAUSE = re.compile(r'^(?P<op>~=|==|!=|<=|>=|<|>)(?P<version>[0-9][0-9.]*)$')

Version = tuple


def default_cache() -> Path:
    root = os.environ.get(CACHE_ENV)
    return Path(root) / 'versions' if root else REPO / '.versions'


def parse(text: str) -> Optional[Version]:
    """``'5.3.1'`` as ``(5, 3, 1)``; None for anything but a final release."""
    return tuple(int(part) for part in text.split('.')) if re.fullmatch(
        r'[0-9]+(\.[0-9]+)*', text) else None


def _padded(version: Version, length: int) -> Version:
    return tuple(version) + (0,) * (length - len(version))


def satisfies(version: Version, specifier: str) -> bool:
    """Whether ``version`` meets a requirement's specifier (``<6.0.0,>=5.1.1``).

    Final releases and the plain operators only, which is what kombu's
    metadata uses; anything else raises ValueError rather than guess.
    """
    for clause in filter(None, (part.strip() for part in specifier.strip('() ').split(','))):
        match = _CLAUSE.match(clause.replace(' ', ''))
        if match is None:
            raise ValueError('cannot read the version specifier %r' % specifier)
        op, other = match['op'], parse(match['version'])
        length = max(len(version), len(other))
        left, right = _padded(version, length), _padded(other, length)
        ok = {'==': left == right, '!=': left != right, '<=': left <= right,
              '>=': left >= right, '<': left < right, '>': left > right,
              '~=': left >= right and version[:len(other) - 1] == other[:-1]}[op]
        if not ok:
            return False
    return True


def _setup_cfg() -> configparser.ConfigParser:
    parser = configparser.ConfigParser()
    parser.read(REPO / 'setup.cfg')
    return parser


def _install_requires() -> list[str]:
    return [line.strip() for line in
            _setup_cfg()['options']['install_requires'].splitlines() if line.strip()]


def bounds() -> dict[str, tuple[str, str]]:
    """{'amqp': (LOW, HIGH), 'kombu': (LOW, HIGH)} from setup.cfg.

    :raises SystemExit: setup.cfg does not bound one of them as ``NAME>=LOW,<HIGH``.
    """
    found = {}
    for line in _install_requires():
        name = re.split(r'[<>=!~ ;\[]', line, maxsplit=1)[0]
        if name.lower() in BOUNDED:
            match = _BOUNDS.match(line.replace(' ', ''))
            if match is None:
                raise SystemExit('setup.cfg must bound %s as %s>=LOW,<HIGH, not %r'
                                 % (name, name, line))
            found[name.lower()] = (match['low'], match['high'])
    missing = set(BOUNDED) - set(found)
    if missing:
        raise SystemExit('setup.cfg does not require %s' % ', '.join(sorted(missing)))
    return found


def releases(name: str) -> list[str]:
    """Every final release of ``name`` on the package index, as pip sees it."""
    done = subprocess.run([sys.executable, '-m', 'pip', 'index', 'versions', name,
                           '--disable-pip-version-check'],
                          capture_output=True, text=True, timeout=PIP_TIMEOUT)
    for line in done.stdout.splitlines():
        if line.startswith('Available versions:'):
            return [text.strip() for text in line.split(':', 1)[1].split(',')
                    if parse(text.strip())]
    raise SystemExit('pip index versions %s found nothing:\n%s%s'
                     % (name, done.stdout, done.stderr))


def minor_picks(name: str, low: str, high: str) -> list[str]:
    """One release per minor series inside ``[low, high)``, oldest first:
    ``low`` for its own series, the newest release of each later one."""
    floor, ceiling = parse(low), parse(high)
    inside = [text for text in releases(name)
              if _padded(parse(text), 3) >= _padded(floor, 3)
              and _padded(parse(text), 3) < _padded(ceiling, 3)]
    series: dict[Version, str] = {}
    for text in sorted(inside, key=parse):
        series[parse(text)[:2]] = text
    picks = [series[minor] for minor in sorted(series)]
    if not picks or parse(picks[0])[:2] != floor[:2]:
        raise SystemExit('the index has no %s release in the series of %s' % (name, low))
    picks[0] = low
    return picks


def kombu_wants_amqp(cache: Path, kombu: str) -> str:
    """The specifier kombu ``kombu``'s wheel puts on amqp (``''`` for none);
    the wheel is kept in ``<cache>/wheels``."""
    wheels = cache / 'wheels'
    wheel = next(wheels.glob('kombu-%s-*.whl' % kombu), None) if wheels.is_dir() else None
    if wheel is None:
        subprocess.run([sys.executable, '-m', 'pip', 'download', '--quiet',
                        '--disable-pip-version-check', '--no-deps', '--only-binary', ':all:',
                        '-d', str(wheels), 'kombu==' + kombu], check=True, timeout=PIP_TIMEOUT)
        wheel = next(wheels.glob('kombu-%s-*.whl' % kombu))
    with zipfile.ZipFile(wheel) as archive:
        metadata = archive.read(next(name for name in archive.namelist()
                                     if name.endswith('.dist-info/METADATA'))).decode()
    for line in metadata.splitlines():
        match = re.match(r'Requires-Dist:\s*amqp\b\s*([^;]*)$', line)
        if match:
            return match.group(1).strip()
    return ''


class Combo:
    """One pair of py-amqp and kombu versions on one frame engine, its venv
    (shared by the pair's engines) and its result."""

    def __init__(self, amqp: str, kombu: str, engine: str = DEFAULT_ENGINE) -> None:
        self.amqp, self.kombu, self.engine = amqp, kombu, engine
        self.venv_name = 'amqp-%s-kombu-%s' % (amqp, kombu)
        self.name = self.venv_name + ('' if engine == DEFAULT_ENGINE else '-' + engine)
        self.label = ''
        self.venv_state = ''
        self.result = 'not run'
        self.seconds = 0.0
        self.ok = False

    def requirements(self) -> list[str]:
        pins = {'amqp': self.amqp, 'kombu': self.kombu}
        out = []
        for line in _install_requires():
            name = re.split(r'[<>=!~ ;\[]', line, maxsplit=1)[0]
            out.append('%s==%s' % (name, pins[name.lower()]) if name.lower() in pins else line)
        return out + list(TEST_TOOLS)


def matrix(cache: Path) -> list[Combo]:
    """The pairs to test, oldest first (see the module's docstring)."""
    limits = bounds()
    amqps = minor_picks('amqp', *limits['amqp'])
    kombus = minor_picks('kombu', *limits['kombu'])
    wants = {kombu: kombu_wants_amqp(cache, kombu) for kombu in kombus}
    pairs: list[tuple[str, str]] = []
    for index, kombu in enumerate(kombus):
        fits = [amqp for amqp in amqps if satisfies(parse(amqp), wants[kombu])]
        if not fits:
            raise SystemExit('kombu %s wants amqp %s: no amqp series inside setup.cfg\'s '
                             'bounds has one' % (kombu, wants[kombu]))
        preferred = amqps[min(index, len(amqps) - 1)]
        covered = {amqp for amqp, _ in pairs}
        amqp = (preferred if preferred in fits
                else next((a for a in fits if a not in covered), fits[-1]))
        pairs.append((amqp, kombu))
    for amqp in amqps:
        if amqp not in {a for a, _ in pairs}:
            kombu = next((k for k in reversed(kombus)
                          if satisfies(parse(amqp), wants[k])), None)
            if kombu is None:
                raise SystemExit('no kombu inside setup.cfg\'s bounds accepts amqp %s' % amqp)
            pairs.append((amqp, kombu))
    pairs.sort(key=lambda pair: (parse(pair[1]), parse(pair[0])))
    combos = [Combo(*pair) for pair in pairs]
    for combo in combos:
        combo.label = ('lowest' if (combo.amqp, combo.kombu) == (amqps[0], kombus[0])
                       else 'highest' if (combo.amqp, combo.kombu) == (amqps[-1], kombus[-1])
                       else '')
    highest = next((combo for combo in combos if combo.label == 'highest'), combos[-1])
    other = Combo(highest.amqp, highest.kombu, OTHER_ENGINE)
    other.label = (highest.label or 'highest') + '-' + OTHER_ENGINE
    return combos + [other]


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


def venv(cache: Path, combo: Combo) -> Path:
    """The venv of ``combo``, built if missing or made for other requirements;
    its python. Under ``<venv>.lock``, so that two runs build it once."""
    home = cache / combo.venv_name
    python = home / 'bin' / 'python'
    stamp = home / 'requirements.json'
    wanted = json.dumps({'requirements': combo.requirements(),
                         'python': [sys.version, sys.base_prefix]}, indent=1)
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / (combo.venv_name + '.lock'), 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if python.exists() and stamp.exists() and stamp.read_text() == wanted:
            combo.venv_state = 'cached'
            return python
        started = time.monotonic()
        stamp.unlink(missing_ok=True)
        subprocess.run([sys.executable, '-m', 'venv', '--clear', str(home)], check=True,
                       timeout=PIP_TIMEOUT)
        subprocess.run([str(python), '-m', 'pip', 'install', '--quiet',
                        '--disable-pip-version-check', *combo.requirements()],
                       check=True, timeout=PIP_TIMEOUT)
        stamp.write_text(wanted)
        combo.venv_state = 'built in %.0f s' % (time.monotonic() - started)
    return python


def _counts(report: Path) -> str:
    try:
        root = ElementTree.parse(report).getroot()
    except (OSError, ElementTree.ParseError):
        return 'no report'
    counts = {'passed': 0, 'failed': 0, 'skipped': 0}
    for suite in root.iter('testsuite'):
        failed = int(suite.get('failures', 0)) + int(suite.get('errors', 0))
        skipped = int(suite.get('skipped', 0))
        counts['failed'] += failed
        counts['skipped'] += skipped
        counts['passed'] += int(suite.get('tests', 0)) - failed - skipped
    return ', '.join('%d %s' % (number, name) for name, number in counts.items())


def run(cache: Path, combo: Combo, pytest_args: list[str]) -> None:
    """Run the test subset in the venv of ``combo``; the outcome is left on it."""
    title = combo.label or combo.name
    print('\n=== %s: amqp %s, kombu %s, %s frame engine' % (title, combo.amqp, combo.kombu,
                                                           combo.engine), flush=True)
    try:
        python = str(venv(cache, combo))
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as error:
        combo.venv_state, combo.result = 'install failed', 'not run: %s' % error
        print('=== %s: %s' % (title, combo.result), flush=True)
        return
    versions = subprocess.run(
        [python, '-c', 'import amqp, kombu; print(amqp.__version__, kombu.__version__)'],
        check=True, capture_output=True, text=True).stdout.split()
    if versions != [combo.amqp, combo.kombu]:
        combo.result = 'venv has amqp %s, kombu %s' % tuple(versions)
        print('=== %s: %s' % (title, combo.result), flush=True)
        return
    tests = sorted(str(path.relative_to(REPO))
                   for path in (REPO / 'tests' / 'unit').glob('test_rabbit_*.py'))
    tests += ['tests/functional/' + name for name in FUNCTIONAL]
    with tempfile.TemporaryDirectory(prefix='versions-') as tmp:
        # The entry points of this checkout, not of whichever run last
        # shared the venv.
        _entry_points(Path(tmp) / 'entry-points')
        report = Path(tmp) / 'report.xml'
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            [str(REPO), str(Path(tmp) / 'entry-points')]), **{ENGINE_VARIABLE: combo.engine})
        started = time.monotonic()
        code = subprocess.run([python, '-m', 'pytest', '-q', '-p', 'no:cacheprovider',
                               '--junitxml', str(report), *tests, *pytest_args],
                              cwd=REPO, env=env).returncode
        combo.seconds = time.monotonic() - started
        combo.ok = code == 0
        combo.result = ('passed' if combo.ok else 'FAILED (pytest exit %d)' % code) + \
            ': ' + _counts(report)
    print('=== %s: %s after %.0f s' % (title, combo.result, combo.seconds), flush=True)


def table(combos: list[Combo]) -> str:
    rows = [('pair', 'amqp', 'kombu', 'engine', 'venv', 'tests', 'result')]
    rows += [(combo.label or '-', combo.amqp, combo.kombu, combo.engine, combo.venv_state,
              '%.0f s' % combo.seconds if combo.seconds else '-', combo.result)
             for combo in combos]
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]) - 1)]
    return '\n'.join('  '.join(cell.ljust(width) for cell, width in zip(row, widths))
                     + '  ' + row[-1] for row in rows)


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--cache', type=Path, default=None,
                        help='where the venvs are kept (default: $%s/versions, else '
                             '<repo>/.versions)' % CACHE_ENV)
    parser.add_argument('--only', action='append',
                        help='only this pair: lowest, highest, highest-stock, or '
                             'amqp-X-kombu-Y[-stock] (repeatable)')
    parser.add_argument('--list', action='store_true', help='print the pairs and stop')
    args, pytest_args = parser.parse_known_args(argv)
    cache = (args.cache or default_cache()).resolve()
    started = time.monotonic()
    combos = matrix(cache)
    if args.only:
        unknown = set(args.only) - {c.name for c in combos} - {c.label for c in combos}
        if unknown:
            parser.error('no such pair: %s (the pairs: %s)' % (
                ', '.join(sorted(unknown)), ', '.join(c.name for c in combos)))
        combos = [c for c in combos if c.name in args.only or c.label in args.only]
    print('version matrix in %s: %d pair(s)' % (cache, len(combos)), flush=True)
    if args.list:
        print(table(combos))
        return 0
    for combo in combos:
        run(cache, combo, pytest_args)
    print('\n=== version matrix (%.0f s in all)\n%s' % (time.monotonic() - started,
                                                      table(combos)), flush=True)
    failed = [combo.name for combo in combos if not combo.ok]
    if failed:
        print('version matrix failed on: %s' % ', '.join(failed))
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
