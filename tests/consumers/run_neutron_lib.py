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

Usage: ``python3 tests/consumers/run_neutron_lib.py [--repo DIR] [--cache DIR]``
(``--repo``: the messaging checkout installed on the messaging side, by
default the one this script is in).  The venvs and the sdist are cached in
``--cache``: ``$MESSAGING_CACHE/consumers`` when ``MESSAGING_CACHE`` is set,
else ``<repo>/.consumers`` (git-ignored), so a second run only reinstalls
messaging (from ``--repo``, every time); the run holds ``<cache>/.lock``
throughout.  The per-test results are left there as ``neutron-lib-<side>.csv``
(and the tracebacks of what failed in ``neutron-lib-<side>.failures.json``).
The venvs, the library swap, stestr and the comparison are
``consumer_suite.py``'s, shared with ``run_services.py``.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import consumer_suite as suite  # noqa: E402

NEUTRON_LIB = 'neutron-lib>=5,<6'
SUITE_TIMEOUT = 1200
# As neutron-lib's own tox.ini sets them: captured output keeps the stream small.
SUITE_ENV = {'OS_LOG_CAPTURE': 'true', 'OS_STDOUT_CAPTURE': 'true',
             'OS_STDERR_CAPTURE': 'true'}


def build_venv(cache: Path, source: Path, side: str, repo: Path) -> Path:
    """The venv of ``side`` with neutron-lib, its test requirements and the side's library."""
    python = suite.build_venv(
        cache / ('venv-%s-%s' % (side, source.name)),
        [source, '-r', source / 'test-requirements.txt', suite.OSLO_MESSAGING])
    suite.use_library(python, side, repo)
    return python


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    suite.add_location_arguments(parser)
    args = parser.parse_args(argv)
    args.cache = args.cache.resolve()
    print('consumer cache: %s' % args.cache, flush=True)
    with suite.locked(args.cache):
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    source = suite.fetch_sdist(args.cache, NEUTRON_LIB, 'neutron_lib')
    results = {}
    for side in suite.SIDES:
        python = build_venv(args.cache, source, side, args.repo.resolve())
        results[side] = suite.run_stestr(
            python, source, 'neutron-lib unit suite on %s' % side,
            args.cache / ('neutron-lib-%s.csv' % side), env=SUITE_ENV, timeout=SUITE_TIMEOUT)
    for side in suite.SIDES:
        print('%s (%s): %s' % (source.name, side, suite.counts(results[side])))
    found = suite.report_regressions(source.name, results['oslo'], results['ours'])
    print('%d test(s) pass on oslo.messaging and not on messaging' % len(found))
    return 1 if found else 0


if __name__ == '__main__':
    sys.exit(main())
