"""In place, the log lines operators act on are oslo.messaging 18.3.1's.

Each scenario of log_scenarios.py (a fault on the real broker) runs under
oslo.messaging 18.3.1 and under ``messaging`` installed in place, both as
``import oslo_messaging``; the distinct (logger, level, message) records at
INFO and above must be the same once the parts that differ from run to run
(ids, ports, names, py-amqp's wording of a cut connection) are replaced.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.functional.conftest import broker_cleanup, rabbit_url  # noqa: F401  (fixtures)

SCENARIOS = Path(__file__).resolve().with_name('log_scenarios.py')
RUN_TIMEOUT = 120

# Records of ours with no oslo.messaging counterpart (doc/source/migration.rst).
OURS_ONLY = (('oslo_messaging._drivers.amqpdriver', 'INFO', 'Listening on '),
             # refused_then_recovered's cast goes to a topic no server serves.
             ('oslo_messaging.drivers.rabbit.unroutable', 'WARNING',
              'No server queue exists for routing key '))
# Records either library logs or not depending on timing: which thread sees
# a cut connection first (the heartbeat thread's), and whether a reply
# whose ack the cut lost is redelivered and dropped.
EITHER = (('oslo.messaging._drivers.impl_rabbit', 'INFO',
           'A recoverable connection/channel error occurred'),
          ('oslo_messaging._drivers.amqpdriver', 'INFO',
           'No calling threads waiting for msg_id : '))

VOLATILE = [
    (re.compile(r'\[[0-9a-f]{8}-[0-9a-f-]{27}\]'), '[<connection id>]'),
    (re.compile(r'\b[0-9a-f]{32}\b'), '<id>'),
    (re.compile(r'127\.0\.0\.1:\d+'), '127.0.0.1:<port>'),
    (re.compile(r'client with port \d+'), 'client with port <port>'),
    # py-amqp words a cut connection by where it noticed it.
    (re.compile(r'is unreachable: .*\. Trying again'), 'is unreachable: <error>. Trying again'),
]


def _normalised(records: list, prefix: str) -> set[tuple]:
    seen = set()
    for name, level, message in records:
        message = message.replace(prefix, '<topic>')
        for pattern, replacement in VOLATILE:
            message = pattern.sub(replacement, message)
        seen.add((name, level, message))
    return seen


def _matches(record: tuple, lines: tuple) -> bool:
    return any(record[:2] == line[:2] and record[2].startswith(line[2]) for line in lines)


def _run_both(pythons: dict, scenario: str, url: str, cleanup) -> dict:
    """Each library's output of ``scenario``, run at the same time."""
    env = dict(os.environ)
    env.pop('PYTHONPATH', None)
    runs = {}
    for library, python in pythons.items():
        prefix = 'test_logs_%s_%s' % (library, uuid.uuid4().hex[:8])
        for suffix in ('', '.s1', '.info', '.warn'):
            cleanup.queue(prefix + suffix)
        cleanup.exchange(prefix + '_fanout')
        # Outside the checkout, so that the installed library is imported.
        runs[library] = (prefix, subprocess.Popen(
            [python, str(SCENARIOS), scenario, url, prefix], stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, env=env, cwd='/'))
    outputs = {}
    for library, (prefix, proc) in runs.items():
        out, err = proc.communicate(timeout=RUN_TIMEOUT)
        assert proc.returncode == 0, '%s: %s' % (library, err[-3000:])
        outputs[library] = json.loads(out.strip().splitlines()[-1])
        outputs[library]['prefix'] = prefix
        for queue in outputs[library]['cleanup']:
            cleanup.queue(queue)
    return outputs


@pytest.mark.parametrize('scenario', [
    'refused_then_recovered', 'connection_cut', 'endpoint_raises', 'call_timeout',
    'reply_queue_missing', 'notifications'])
def test_in_place_a_fault_logs_what_oslo_messaging_logs(
        scenario, oslo_python, inplace_python, rabbit_url, broker_cleanup):  # noqa: F811
    outputs = _run_both({'oslo': oslo_python, 'ours': inplace_python}, scenario,
                        rabbit_url, broker_cleanup)
    seen = {library: {record for record in _normalised(output['records'], output['prefix'])
                      if not _matches(record, EITHER)}
            for library, output in outputs.items()}
    ours_only = {record for record in seen['ours'] if _matches(record, OURS_ONLY)}
    assert seen['ours'] - ours_only == seen['oslo']
    # A call that times out logs nothing in either library.
    assert seen['oslo'] or scenario == 'call_timeout', 'nothing logged to compare'
    observed = {library: output['observed'] for library, output in outputs.items()}
    if scenario == 'call_timeout':
        # The exception's text is ours (it names the method and topic); the
        # type and oslo's opening words are the same.
        for library in observed:
            call = observed[library]['call']
            assert call['raised'] == 'MessagingTimeout'
            assert call['message'].startswith('Timed out waiting for a reply to ')
    else:
        assert observed['ours'] == observed['oslo']
