#!/usr/bin/env python3
"""Run neutron-lib's unit suite on oslo.messaging 18.3.1 and on messaging in its place.

A real consumer, written by nobody here, is the proof that messaging is a
drop-in: this script builds two venvs with neutron-lib (the latest 5.x sdist
from PyPI, which carries its tests and test requirements), one with
oslo.messaging 18.3.1 and one where oslo.messaging was uninstalled and
messaging plus the repository's ``inplace/`` distribution put in its place,
runs ``neutron_lib/tests/unit`` in each (stestr, two workers) and compares the
results test by test.

It exits 1 when a test that passes on oslo.messaging does not pass on
messaging, listing every such test; nothing is tolerated silently.

Usage: ``python3 tests/consumers/run_neutron_lib.py [--cache DIR]``.  The
venvs and the sdist are cached in ``<repo>/.consumers`` (git-ignored), so a
second run only reinstalls messaging; the per-test results are left there
as ``neutron-lib-<side>.csv``.
"""
from __future__ import annotations

import argparse
import csv
import io
import os
import subprocess
import sys
import tarfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
NEUTRON_LIB = 'neutron-lib>=5,<6'
OSLO_MESSAGING = 'oslo.messaging==18.3.1'
SIDES = ('oslo', 'ours')
PIP = ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check']
INSTALL_TIMEOUT = 1800
SUITE_TIMEOUT = 1200
# As neutron-lib's own tox.ini sets them: captured output keeps the stream small.
SUITE_ENV = {'OS_LOG_CAPTURE': 'true', 'OS_STDOUT_CAPTURE': 'true',
             'OS_STDERR_CAPTURE': 'true'}


def run(command: list, timeout: float, **kwargs) -> subprocess.CompletedProcess:
    print('+ ' + ' '.join(str(part) for part in command), flush=True)
    return subprocess.run([str(part) for part in command], check=True,
                          timeout=timeout, **kwargs)


def fetch_sdist(cache: Path) -> Path:
    """The newest neutron-lib 5.x sdist from PyPI, extracted; its source dir."""
    downloads = cache / 'sdist'
    run([sys.executable, '-m', 'pip', 'download', '--quiet', '--disable-pip-version-check',
         '--no-deps', '--no-binary', ':all:', '-d', downloads, NEUTRON_LIB], INSTALL_TIMEOUT)
    newest = max(downloads.glob('neutron_lib-5.*.tar.gz'),
                 key=lambda path: [int(part) for part in
                                   path.name[len('neutron_lib-'):-len('.tar.gz')].split('.')])
    source = cache / newest.name[:-len('.tar.gz')]
    if not source.is_dir():
        safe = {'filter': 'data'} if hasattr(tarfile, 'data_filter') else {}
        with tarfile.open(newest) as archive:
            archive.extractall(cache, **safe)
    return source


def build_venv(cache: Path, source: Path, side: str) -> Path:
    """The venv of ``side`` with neutron-lib and its test requirements; its python."""
    venv = cache / ('venv-%s-%s' % (side, source.name))
    python = venv / 'bin' / 'python'
    ready = venv / '.neutron-lib-ready'
    if not ready.exists():
        run([sys.executable, '-m', 'venv', '--clear', venv], INSTALL_TIMEOUT)
        run([python, *PIP, source, '-r', source / 'test-requirements.txt', OSLO_MESSAGING],
            INSTALL_TIMEOUT)
        if side == 'ours':
            run([python, '-m', 'pip', 'uninstall', '--quiet', '-y', 'oslo.messaging'],
                INSTALL_TIMEOUT)
        ready.touch()
    if side == 'ours':
        # Always the working tree's code: pip reinstalls projects given by path.
        run([python, *PIP, REPO, REPO / 'inplace'], INSTALL_TIMEOUT)
    check = subprocess.run([python, '-m', 'pip', 'check'], capture_output=True, text=True,
                           timeout=INSTALL_TIMEOUT)
    print('pip check (%s): %s' % (side, check.stdout.strip() or check.stderr.strip()))
    if check.returncode != 0:
        raise SystemExit('pip check failed in the %s venv' % side)
    version = subprocess.run(
        [python, '-c', 'import oslo_messaging, importlib.metadata as m; '
                       'print(m.version("oslo.messaging"), oslo_messaging.__file__)'],
        capture_output=True, text=True, check=True, timeout=120, cwd='/').stdout.strip()
    print('oslo.messaging in the %s venv: %s' % (side, version))
    return python


def run_suite(python: Path, source: Path, side: str, cache: Path) -> dict[str, str]:
    """Run the unit suite; {test id: subunit status}, also saved as CSV."""
    stestr = python.parent / 'stestr'
    started = time.monotonic()
    suite = subprocess.run(
        [str(stestr), 'run', '--concurrency', '2', '--subunit'], cwd=source,
        env={**os.environ, **SUITE_ENV}, capture_output=True, timeout=SUITE_TIMEOUT)
    print('neutron-lib unit suite on %s: %.0f s' % (side, time.monotonic() - started))
    # subunit2csv exits 1 when the stream holds a failure: the table is what counts.
    table = subprocess.run([str(python.parent / 'subunit2csv')], input=suite.stdout,
                           capture_output=True, timeout=300).stdout.decode()
    (cache / ('neutron-lib-%s.csv' % side)).write_text(table)
    results = {row['test']: row['status'] for row in csv.DictReader(io.StringIO(table))}
    if not results:
        sys.stderr.write(suite.stderr.decode(errors='replace')[-5000:])
        raise SystemExit('the suite on %s reported no test at all' % side)
    return results


def summary(results: dict[str, str]) -> str:
    counts: dict[str, int] = {}
    for status in results.values():
        counts[status] = counts.get(status, 0) + 1
    return ', '.join('%s %d' % item for item in sorted(counts.items()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--cache', type=Path, default=REPO / '.consumers',
                        help='where the sdist, the venvs and the results are kept')
    args = parser.parse_args(argv)
    args.cache.mkdir(parents=True, exist_ok=True)
    source = fetch_sdist(args.cache)
    results = {side: run_suite(build_venv(args.cache, source, side), source, side, args.cache)
               for side in SIDES}
    for side in SIDES:
        print('%s (%s): %s' % (source.name, side, summary(results[side])))
    regressions = sorted(test for test, status in results['oslo'].items()
                         if status == 'success' and results['ours'].get(test) != 'success')
    for test in regressions:
        print('passes on oslo.messaging, not on messaging (%s): %s'
              % (results['ours'].get(test, 'not run'), test))
    print('%d test(s) pass on oslo.messaging and not on messaging' % len(regressions))
    return 1 if regressions else 0


if __name__ == '__main__':
    sys.exit(main())
