"""The ``messaging`` command against the real broker, as an operator would use it."""
import json
import os
import re
import signal
import time

import pytest

from tests.cli.runner import LineReader, run_cli, start_cli, stop
from tests.functional.conftest import queue_column, rabbitmqctl, raw_connection


@pytest.fixture
def served_topic(rabbit_url, unique_name, broker_cleanup):
    """A ``messaging serve`` process on a fresh topic and exchange; yields (topic, exchange)."""
    topic, exchange = unique_name('cli'), broker_cleanup.exchange(unique_name('clix'))
    for queue in (topic, topic + '.s1'):
        broker_cleanup.queue(queue)
    broker_cleanup.exchange(topic + '_fanout')
    process = start_cli('--transport-url', rabbit_url, 'serve',
                        'tests.cli.endpoints:EchoEndpoint', '--topic', topic,
                        '--server', 's1', '--exchange', exchange, '--ping')
    try:
        LineReader(process.stdout).wait_for('serving')
        yield topic, exchange
    finally:
        assert stop(process) == 0


def test_call_prints_the_result_as_json(rabbit_url, served_topic):
    topic, exchange = served_topic
    result = run_cli('--transport-url', rabbit_url, 'call', topic, 'echo', '--exchange',
                     exchange, '--arg', 'n=1', '--arg', 'name=x', '--json-args',
                     '{"items": [1, 2]}', '--context', '{"user": "alice"}')
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {'args': {'n': 1, 'name': 'x', 'items': [1, 2]},
                                         'context': {'user': 'alice'}}


def test_call_reports_the_remote_exception_and_fails(rabbit_url, served_topic):
    topic, exchange = served_topic
    result = run_cli('--transport-url', rabbit_url, 'call', topic, 'fail', '--exchange',
                     exchange, '--arg', 'reason=disk full')
    assert result.returncode == 1
    assert 'ValueError' in result.stderr and 'disk full' in result.stderr


def test_ping_a_named_server_prints_the_round_trip(rabbit_url, served_topic):
    topic, exchange = served_topic
    result = run_cli('--transport-url', rabbit_url, 'ping', topic, '--server', 's1',
                     '--exchange', exchange)
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer['answer'] == 'pong' and answer['round_trip_ms'] > 0


def test_retire_queue_has_the_servers_declare_it_again_and_they_serve_on(
        rabbit_url, served_topic):
    topic, exchange = served_topic
    result = run_cli('--transport-url', rabbit_url, 'retire-queue', topic, '--exchange',
                     exchange, '--timeout', '20')
    assert result.returncode == 0, result.stderr
    retired = json.loads(result.stdout)
    assert (retired['name'], retired['exchange'], retired['consumers']) == (topic, exchange, 1)
    assert retired['declared_again_after'] is not None
    called = run_cli('--transport-url', rabbit_url, 'call', topic, 'echo', '--exchange',
                     exchange, '--arg', 'n=2')
    assert called.returncode == 0, called.stderr
    assert json.loads(called.stdout)['args'] == {'n': 2}


def test_retire_queue_of_no_queue_fails_naming_it(rabbit_url, unique_name):
    name = unique_name('cligone')
    result = run_cli('--transport-url', rabbit_url, 'retire-queue', name)
    assert result.returncode == 1
    assert result.stderr.startswith('messaging retire-queue: There is no queue %s' % name)


def test_ping_all_counts_every_server_of_the_topic(rabbit_url, unique_name, broker_cleanup):
    topic = unique_name('cliall')
    broker_cleanup.exchange(topic + '_fanout')
    servers = []
    try:
        for name in ('a', 'b'):
            broker_cleanup.queue(topic)
            broker_cleanup.queue('%s.%s' % (topic, name))
            process = start_cli('--transport-url', rabbit_url, 'serve',
                                'tests.cli.endpoints:EchoEndpoint', '--topic', topic,
                                '--server', name, '--ping')
            servers.append(process)
            LineReader(process.stdout).wait_for('serving')
        result = run_cli('--transport-url', rabbit_url, 'ping', topic, '--all',
                         '--timeout', '3')
        assert result.returncode == 0, result.stderr
        survey = json.loads(result.stdout)
        assert survey['servers_answering'] == 2
        assert [a['answer'] for a in survey['answers']] == ['pong', 'pong']
    finally:
        for process in servers:
            assert stop(process) == 0


def test_cast_and_fanout_succeed(rabbit_url, served_topic):
    topic, exchange = served_topic
    for command in ('cast', 'fanout'):
        result = run_cli('--transport-url', rabbit_url, command, topic, 'echo',
                         '--exchange', exchange)
        assert result.returncode == 0, result.stderr


def test_call_to_a_topic_nobody_serves_times_out(rabbit_url, unique_name, broker_cleanup):
    exchange = broker_cleanup.exchange(unique_name('clix'))
    result = run_cli('--transport-url', rabbit_url, 'call', unique_name('none'), 'echo',
                     '--exchange', exchange, '--timeout', '1')
    assert result.returncode == 1
    assert 'timed out' in result.stderr


def test_listen_prints_matching_notifications_and_removes_its_private_queue(
        rabbit_url, unique_name, broker_cleanup):
    topic, exchange = unique_name('clin'), broker_cleanup.exchange(unique_name('clinx'))
    broker_cleanup.queue(topic + '.info')
    broker_cleanup.queue(topic + '.error')
    listener = start_cli('--transport-url', rabbit_url, 'listen', '--topic', topic,
                         '--exchange', exchange, '--event-type', r'compute\.',
                         '--count', '1')
    try:
        ready = LineReader(listener.stderr).wait_for('listening')
        pool = ready.rsplit('pool ', 1)[1].rstrip(')\n')
        broker_cleanup.queue(pool)
        for event_type in ('volume.ignored', 'compute.instance.create'):
            sent = run_cli('--transport-url', rabbit_url, 'notify', event_type,
                           '--topic', topic, '--exchange', exchange,
                           '--payload', '{"id": 7}')
            assert sent.returncode == 0, sent.stderr
        line = LineReader(listener.stdout).wait_for('compute.instance.create')
        shown = json.loads(line)
        assert shown['priority'] == 'info' and shown['payload'] == {'id': 7}
        assert listener.wait(timeout=20) == 0
    finally:
        stop(listener)
    assert not _queue_exists(rabbit_url, pool)


def test_listen_shows_the_context_notify_was_given_less_its_tokens(
        rabbit_url, unique_name, broker_cleanup):
    topic, exchange = unique_name('clic'), broker_cleanup.exchange(unique_name('clicx'))
    broker_cleanup.queue(topic + '.info')
    listener = start_cli('--transport-url', rabbit_url, 'listen', '--topic', topic,
                         '--exchange', exchange, '--count', '1')
    try:
        ready = LineReader(listener.stderr).wait_for('listening')
        broker_cleanup.queue(ready.rsplit('pool ', 1)[1].rstrip(')\n'))
        sent = run_cli('--transport-url', rabbit_url, 'notify', 'compute.instance.update',
                       '--topic', topic, '--exchange', exchange, '--context',
                       '{"user": "alice", "request_id": "req-1", "roles": ["admin"], '
                       '"auth_token": "tok-secret"}')
        assert sent.returncode == 0, sent.stderr
        shown = json.loads(LineReader(listener.stdout).wait_for('compute.instance.update'))
        # As given, without the token, and without the RPC envelope's fields
        # (client_timeout), which a notification does not have.
        assert shown['context'] == {'user': 'alice', 'request_id': 'req-1',
                                    'roles': ['admin']}
        assert listener.wait(timeout=20) == 0
    finally:
        stop(listener)


def _queues_consumed_by(pid: int) -> set:
    """The queues that the connections of process ``pid`` consume from
    (ours are named ``<program>:<pid>:<uuid>``)."""
    def rows(*columns: str) -> list:
        listing = rabbitmqctl('list_%s' % columns[0], '--no-table-headers', *columns[1:])
        return [line.split('\t') for line in listing.splitlines() if line.strip()]

    mine = re.compile(r'"connection_name","[^"]*:%d:' % pid)
    connections = {conn for conn, properties in rows('connections', 'pid',
                                                     'client_properties')
                   if mine.search(properties)}
    channels = {channel for channel, conn in rows('channels', 'pid', 'connection')
                if conn in connections}
    return {queue for queue, channel in rows('consumers', 'queue_name', 'channel_pid')
            if channel in channels}


def _wait_until(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError('not within %ss: %s' % (timeout, what))
        time.sleep(0.2)


def test_ctrl_c_during_a_call_exits_130_saying_interrupted_and_leaves_no_queue(
        rabbit_url, unique_name, broker_cleanup):
    exchange = broker_cleanup.exchange(unique_name('clix'))
    call = start_cli('--transport-url', rabbit_url, 'call', unique_name('nobody'), 'echo',
                     '--exchange', exchange)
    try:
        # Waiting for its reply: consuming from its reply queue.
        queues = _wait_until(lambda: _queues_consumed_by(call.pid), 20,
                             'the call consumes from its reply queue')
        call.send_signal(signal.SIGINT)
        began = time.monotonic()
        assert call.wait(timeout=10) == 130
        assert time.monotonic() - began < 5
        assert call.stdout.read() == ''
        assert call.stderr.read() == 'messaging call: interrupted\n'
    finally:
        stop(call)
    # The reply queue expires shortly after (REPLY_QUEUE_TTL), not 30 minutes.
    # Listed, not declared: a declaration would count as a use and keep it.
    _wait_until(lambda: not any(queue_column(queue, 'name') for queue in queues), 15,
                'the reply queues %s are gone' % sorted(queues))


def _queue_exists(url: str, name: str) -> bool:
    from amqp import exceptions as amqp_exceptions

    with raw_connection(url) as conn:
        channel = conn.channel()
        try:
            channel.queue_declare(name, passive=True)
            return True
        except amqp_exceptions.NotFound:
            return False


DEAD = 'rabbit://guest:secretpw@127.0.0.1:1/'
# Beyond its own bound, what a command may take: starting Python, importing.
CLI_MARGIN = 5
# Far below any command's default bound (a call's 60 s), and enough for a
# loaded 2-core machine to start Python and try a broker or two.
GIVE_UP_WITHIN = 15

EVERY_COMMAND = [
    ['call', 't', 'm'],
    ['cast', 't', 'm'],
    ['fanout', 't', 'm'],
    ['ping', 't'],
    ['ping', 't', '--all'],
    ['notify', 'x.y'],
    ['listen'],
    ['serve', 'tests.cli.endpoints:EchoEndpoint', '--topic', 't'],
]


def _with(url: str, password: str = None, host: str = None, port: int = None,
          vhost: str = None, query: str = None) -> str:
    """``url`` (one host) with one part changed."""
    from oslo_config import cfg

    import messaging

    parsed = messaging.TransportURL.parse(cfg.ConfigOpts(), url)
    [broker] = parsed.hosts
    text = 'rabbit://%s:%s@%s:%d/%s' % (
        broker.username, password or broker.password, host or broker.hostname,
        port or broker.port or 5672, vhost or parsed.virtual_host or '')
    return text + ('?' + query if query else '')


# How the broker is unreachable: the URL (from the test broker's) and what
# the one line says after "cannot reach the broker at HOST, vhost VHOST: ".
UNREACHABLE = {
    'refused port': (lambda url: _with(url, host='127.0.0.1', port=1, password='secretpw'),
                     '127.0.0.1:1', '/', 'connection refused'),
    # The port is given: the test broker's may be another (a RabbitMQ 4 node).
    'unknown host': (lambda url: _with(url, host='nonexistent.invalid', port=5672,
                                       password='secretpw'),
                     'nonexistent.invalid:5672', '/', 'unknown host'),
    'TLS to the plain port': (lambda url: _with(url, query='ssl=1'), None, '/',
                              'TLS handshake failed'),
    'missing vhost': (lambda url: _with(url, vhost='test_cli_no_such_vhost'), None,
                      'test_cli_no_such_vhost',
                      'vhost test_cli_no_such_vhost not found'),
    'wrong password': (lambda url: _with(url, password='secretpw'), None, '/',
                       'login refused: check user and password'),
}


@pytest.mark.parametrize('case', UNREACHABLE)
@pytest.mark.parametrize('command', EVERY_COMMAND, ids=' '.join)
def test_every_command_gives_up_an_unusable_broker_within_seconds_naming_broker_and_cause(
        rabbit_url, command, case):
    make_url, host, vhost, cause = UNREACHABLE[case]
    url = make_url(rabbit_url)
    host = host or rabbit_url.split('@')[-1].split('/')[0]
    began = time.monotonic()
    # run_cli raises TimeoutExpired, failing the test, past the bound.
    result = run_cli('--transport-url', url, *command, timeout=GIVE_UP_WITHIN)
    assert time.monotonic() - began < GIVE_UP_WITHIN
    assert result.returncode == 1, result.stderr
    [line] = result.stderr.splitlines()
    assert line.startswith('messaging %s: cannot reach the broker at %s, vhost %s: %s'
                           % (command[0], host, vhost, cause)), line
    assert 'secretpw' not in line and result.stdout == ''


def test_bench_against_a_refused_port_fails_before_it_starts():
    result = run_cli('bench', '--url', DEAD, '--quick', timeout=10 + CLI_MARGIN)
    assert result.returncode == 1
    assert 'cannot use the broker' in result.stderr and 'round 1' not in result.stderr
    assert 'secretpw' not in result.stderr


def _children(pid: int) -> list[int]:
    found = []
    for task in os.listdir('/proc/%d/task' % pid):
        with open('/proc/%d/task/%s/children' % (pid, task)) as listing:
            found.extend(int(child) for child in listing.read().split())
    return found


def _gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open('/proc/%d/stat' % pid) as stat:
                if stat.read().split(') ', 1)[1].startswith('Z'):
                    return True
        except FileNotFoundError:
            return True
        time.sleep(0.05)
    return False


def test_sigterm_to_bench_ends_its_workload_process(rabbit_url):
    bench = start_cli('bench', '--url', rabbit_url, '--count', '100000', '--sizes', '100')
    try:
        LineReader(bench.stderr).wait_for('round 1/1', timeout=30)
        deadline = time.monotonic() + 10
        children = _children(bench.pid)
        while not children and time.monotonic() < deadline:
            time.sleep(0.05)
            children = _children(bench.pid)
        assert children, 'the workload process did not start'
        bench.send_signal(signal.SIGTERM)
        assert bench.wait(timeout=20) == 1
        assert all(_gone(child, 10) for child in children), children
    finally:
        if bench.poll() is None:
            bench.kill()
            bench.wait()
