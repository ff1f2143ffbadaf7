"""The ``messaging`` command against the real broker, as an operator would use it."""
import json

import pytest

from tests.cli.runner import LineReader, run_cli, start_cli, stop


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


def test_notify_with_the_broker_down_fails_with_a_clear_line(unique_name):
    result = run_cli('--transport-url', 'rabbit://guest:secretpw@127.0.0.1:1/',
                     'notify', 'x.y', '--topic', unique_name('down'), timeout=60)
    assert result.returncode == 1
    assert 'not delivered' in result.stderr
    assert 'secretpw' not in result.stderr


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


def _queue_exists(url: str, name: str) -> bool:
    import kombu
    from amqp import exceptions as amqp_exceptions

    with kombu.Connection('amqp://' + url.split('://', 1)[1]) as conn:
        channel = conn.channel()
        try:
            channel.queue_declare(name, passive=True)
            return True
        except amqp_exceptions.NotFound:
            return False
