#!/usr/bin/env python3
"""Run nova's and cinder's messaging tests on oslo.messaging 18.3.1 and on messaging in its place.

Two real services, written by nobody here: one venv per service with the
service installed from its PyPI sdist (nova 34.x, cinder 29.x: the sdists
carry the tests) and its test requirements.  In each venv the tests that
touch oslo.messaging (RPC setup, the services, the rpcapi modules, the
conductor, the notifications) run first on oslo.messaging 18.3.1, then
oslo.messaging is uninstalled and messaging plus the repository's
``inplace/`` distribution installed in its place (``--no-deps``; ``pip
check`` proves nothing is missing), and they run again.  Each service runs
with eventlet and in native threading mode, selected the way the service's
own tox.ini does (``OS_NOVA_DISABLE_EVENTLET_PATCHING``,
``OS_CINDER_DISABLE_EVENTLET_PATCHING``).

Results are compared test by test; the script exits 1 when a test that
passes on oslo.messaging does not pass on messaging, listing every such test
grouped by the exception it ended with.

Usage: ``python3 tests/consumers/run_services.py [--repo DIR] [--cache DIR]
[--service nova|cinder] [--mode eventlet|threading] [--side oslo|ours]``.
``--repo`` is the messaging checkout installed on the "ours" side (default:
the checkout this script is in; reinstalled on every run).  The sdists, venvs
and per-test results (``<service>-<mode>-<side>.csv`` and the tracebacks of
what failed in ``.failures.json``) are kept in ``--cache``:
``$MESSAGING_CACHE/consumers`` when ``MESSAGING_CACHE`` is set, else
``<repo>/.consumers`` (git-ignored); the run holds ``<cache>/.lock``
throughout.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import consumer_suite as suite  # noqa: E402

# Environment both services' tox.ini set for their unit tests.
COMMON_ENV = {'OS_STDOUT_CAPTURE': '1', 'OS_STDERR_CAPTURE': '1', 'OS_LOG_CAPTURE': '1'}

SERVICES = {
    'nova': {
        'requirement': 'nova>=34,<35',
        'dist': 'nova',
        # Without OpenStack's upper-constraints pip takes SQLAlchemy 2.1,
        # whose orm.noload() nova's DB API (instance_get_by_uuid) cannot use
        # any more: 84 conductor tests fail on both sides.  The upper
        # constraints keep SQLAlchemy at 2.0.x, as this does.
        'pins': ['SQLAlchemy>=2.0,<2.1'],
        'tests': ['nova.tests.unit.test_rpc', 'nova.tests.unit.test_service',
                  'nova.tests.unit.compute.test_rpcapi', 'nova.tests.unit.conductor.test_conductor',
                  'nova.tests.unit.notifications', 'nova.tests.unit.test_notifications'],
        'env': {'OS_TEST_TIMEOUT': '160', 'NOVA_RAISE_ON_GREENLET_LEAK': 'True'},
        'mode_env': 'OS_NOVA_DISABLE_EVENTLET_PATCHING',
    },
    'cinder': {
        'requirement': 'cinder>=29,<30',
        'dist': 'cinder',
        'pins': [],
        # cinder's tests replace oslo_messaging.Notifier by a fake that keeps
        # the serializer of the real one (rpc.NOTIFIER._serializer) and
        # JSON-encodes what it is given: the notification tests below assert
        # on what went through cinder.rpc and that serializer.
        'tests': ['cinder.tests.unit.test_rpc', 'cinder.tests.unit.test_service',
                  'cinder.tests.unit.backup.test_rpcapi', 'cinder.tests.unit.scheduler.test_rpcapi',
                  'cinder.tests.unit.volume.test_rpcapi', 'cinder.tests.unit.test_volume_utils',
                  'cinder.tests.unit.volume.test_volume_usage_audit',
                  'cinder.tests.unit.test_volume_transfer',
                  'cinder.tests.unit.api.contrib.test_types_manage',
                  'cinder.tests.unit.group.test_groups_manager'],
        'env': {'OS_TEST_TIMEOUT': '60'},
        'mode_env': 'OS_CINDER_DISABLE_EVENTLET_PATCHING',
    },
}
MODES = {'eventlet': 'False', 'threading': 'True'}


def service_venv(cache: Path, name: str) -> tuple[Path, Path]:
    """The service's sdist source dir and its venv's python."""
    service = SERVICES[name]
    source = suite.fetch_sdist(cache, service['requirement'], service['dist'])
    python = suite.build_venv(
        cache / ('venv-%s' % source.name),
        [source, '-r', source / 'test-requirements.txt', suite.OSLO_MESSAGING,
         *service['pins']])
    return source, python


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    suite.add_location_arguments(parser)
    parser.add_argument('--service', action='append', choices=sorted(SERVICES),
                        help='only this service (repeatable; default: all)')
    parser.add_argument('--mode', action='append', choices=sorted(MODES),
                        help='only this concurrency mode (repeatable; default: both)')
    parser.add_argument('--side', action='append', choices=suite.SIDES,
                        help='only this side (repeatable; default: both, compared)')
    args = parser.parse_args(argv)
    args.repo = args.repo.resolve()
    args.cache = args.cache.resolve()
    print('consumer cache: %s' % args.cache, flush=True)
    with suite.locked(args.cache):
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    services = args.service or list(SERVICES)
    modes = args.mode or list(MODES)
    sides = args.side or list(suite.SIDES)
    results: dict[tuple, dict] = {}
    started = time.monotonic()
    for name in services:
        service = SERVICES[name]
        source, python = service_venv(args.cache, name)
        modules = suite.test_modules(source, service['tests'])
        for side in sides:
            suite.use_library(python, side, args.repo)
            for mode in modes:
                env = {**COMMON_ENV, **service['env'], service['mode_env']: MODES[mode]}
                label = '%s %s on %s' % (source.name, mode, side)
                results[name, mode, side] = suite.run_modules(
                    python, source, label,
                    args.cache / ('%s-%s-%s.csv' % (name, mode, side)), modules, env)
    print('\n=== counts')
    for (name, mode, side), found in results.items():
        print('%s %s on %s: %s' % (name, mode, side, suite.counts(found)))
    if not set(suite.SIDES) <= set(sides):
        print('one side only: nothing compared (%.0f s)' % (time.monotonic() - started))
        return 0
    found = []
    for name in services:
        for mode in modes:
            found += suite.report_regressions('%s %s' % (name, mode), results[name, mode, 'oslo'],
                                              results[name, mode, 'ours'])
    print('\n%d test run(s) pass on oslo.messaging and not on messaging (%.0f s)'
          % (len(found), time.monotonic() - started))
    return 1 if found else 0


if __name__ == '__main__':
    sys.exit(main())
