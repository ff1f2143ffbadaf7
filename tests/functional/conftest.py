"""Fixtures for tests against the real RabbitMQ.

A broker that cannot be reached skips these tests on a developer's machine
(with the reason) and fails them in CI, where .ci/run must have started it.
``MESSAGING_TEST_RABBIT_URL`` names another broker, and
``MESSAGING_TEST_RABBITMQCTL`` its ``rabbitmqctl`` (tests/brokers/rabbitmq4.py
sets both for a RabbitMQ 4 node).
"""
from __future__ import annotations

import os
import uuid

import kombu
import pytest
from amqp import exceptions as amqp_exceptions

BROKER_URL = os.environ.get('MESSAGING_TEST_RABBIT_URL',
                            'rabbit://guest:guest@127.0.0.1:5672/')


def _kombu_url(url: str) -> str:
    return 'amqp://' + url.split('://', 1)[1]


def raw_connection(url: str) -> kombu.Connection:
    """A plain kombu connection to the broker at ``url``, already connected.

    Use it as ``with raw_connection(url) as connection:``, or release it.

    A loaded broker (RabbitMQ 4 in a chroot on two busy cores) has been seen
    to take over kombu's 5 s to open a connection once; the tests' own
    connections try three times rather than fail the test on that.
    """
    connection = kombu.Connection(_kombu_url(url), connect_timeout=5)
    try:
        connection.ensure_connection(max_retries=3)
    except BaseException:
        connection.release()
        raise
    return connection


@pytest.fixture(scope='session')
def rabbit_url() -> str:
    """The transport URL of a reachable broker."""
    try:
        with kombu.Connection(_kombu_url(BROKER_URL), connect_timeout=3) as conn:
            conn.ensure_connection(max_retries=1)
    except Exception as ex:
        reason = ('RabbitMQ is not reachable at %s (%s): start it with '
                  '"rabbitmq-server -detached" or point MESSAGING_TEST_RABBIT_URL '
                  'at one' % (BROKER_URL.split('@')[-1], ex))
        if os.environ.get('CI'):
            pytest.fail(reason)
        pytest.skip(reason)
    return BROKER_URL


@pytest.fixture
def unique_name():
    """Make names no other test (or run) uses: ``unique_name('topic')``."""
    return lambda prefix='t': 'test_%s_%s' % (prefix, uuid.uuid4().hex[:10])


class BrokerCleanup:
    """Deletes, after the test, the queues and exchanges a test declared."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.queues: list[str] = []
        self.exchanges: list[str] = []

    def queue(self, name: str) -> str:
        self.queues.append(name)
        return name

    def exchange(self, name: str) -> str:
        self.exchanges.append(name)
        return name

    def run(self) -> None:
        with raw_connection(self.url) as conn:
            for kind, names in (('queue', self.queues), ('exchange', self.exchanges)):
                for name in names:
                    channel = conn.channel()
                    try:
                        if kind == 'queue':
                            channel.queue_delete(name)
                        else:
                            channel.exchange_delete(name)
                    except amqp_exceptions.NotFound:
                        pass
                    finally:
                        if channel.is_open:
                            channel.close()


@pytest.fixture
def broker_cleanup(rabbit_url):
    """Register names with ``.queue(n)`` / ``.exchange(n)``; deleted at teardown."""
    cleanup = BrokerCleanup(rabbit_url)
    yield cleanup
    cleanup.run()


@pytest.fixture
def rabbit_transport(rabbit_url, broker_cleanup):
    """Make RPC transports (``rabbit_transport(url=None, **options)``).

    Each transport's reply queue is registered with ``broker_cleanup`` and
    every transport is cleaned up (connections and threads) after the test.
    Keyword arguments become ``[oslo_messaging_rabbit]`` URL query values.
    """
    import messaging
    from oslo_config import cfg

    made = []

    def make(url=None, allowed_remote_exmods=None, **options):
        url = url or rabbit_url
        if options:
            url += ('&' if '?' in url else '?') + '&'.join(
                '%s=%s' % item for item in sorted(options.items()))
        conf = cfg.ConfigOpts()
        conf([])
        transport = messaging.get_rpc_transport(
            conf, url, allowed_remote_exmods=allowed_remote_exmods)
        made.append(transport)
        broker_cleanup.queue(transport._driver.reply_queue_name)
        return transport

    yield make
    for transport in made:
        transport.cleanup()


# The broker's rabbitmqctl: the machine's, or the script
# tests/brokers/rabbitmq4.py writes for a RabbitMQ 4 node of its own.
RABBITMQCTL = os.environ.get('MESSAGING_TEST_RABBITMQCTL', 'rabbitmqctl')


def rabbitmqctl(*args: str) -> str:
    """The quiet output of ``rabbitmqctl <args>`` (raises if it fails)."""
    import subprocess

    return subprocess.run([RABBITMQCTL, '-q', *args], capture_output=True, text=True,
                          timeout=30, check=True).stdout


def close_connection(name: str) -> None:
    """Have the broker close the one connection called ``name``."""
    for line in rabbitmqctl('list_connections', '--no-table-headers', 'pid',
                             'client_properties').splitlines():
        pid, _, properties = line.partition('\t')
        if '"connection_name","%s"' % name in properties:
            rabbitmqctl('close_connection', pid, 'test: dropped by the broker')
            return
    raise AssertionError('no connection named %s on the broker' % name)


def close_our_connections() -> int:
    """Have the broker close every connection of this process, and only those.

    Our connections are named ``<program>:<pid>:<uuid>``, so connections of
    other test processes on the same broker are left alone. Returns how many
    were closed.
    """
    import re

    mine = re.compile(r'"connection_name","[^"]*:%d:' % os.getpid())
    closed = 0
    for line in rabbitmqctl('list_connections', '--no-table-headers', 'pid',
                             'client_properties').splitlines():
        pid, _, properties = line.partition('\t')
        if mine.search(properties):
            rabbitmqctl('close_connection', pid, 'test: dropped by the broker')
            closed += 1
    return closed


def queue_column(name: str, column: str) -> str:
    """What ``rabbitmqctl list_queues`` shows in ``column`` for queue
    ``name``, or '' when there is no such queue."""
    for line in rabbitmqctl('list_queues', '--no-table-headers', 'name',
                             column).splitlines():
        queue, _, value = line.partition('\t')
        if queue == name:
            return value.strip()
    return ''


def queue_type(name: str) -> str:
    """The broker's ``type`` of queue ``name`` (classic, quorum...), or ''."""
    return queue_column(name, 'type')


@pytest.fixture
def rabbit_names(unique_name, broker_cleanup):
    """A unique topic and exchange, with everything they imply cleaned up."""
    topic = unique_name('topic')
    exchange = broker_cleanup.exchange(unique_name('ex'))
    for queue in (topic, topic + '.srv', topic + '.info', topic + '.error'):
        broker_cleanup.queue(queue)
    broker_cleanup.exchange(topic + '_fanout')
    return topic, exchange


@pytest.fixture
def raw_channel(rabbit_url):
    """A plain kombu channel, for capturing and hand-publishing messages."""
    with raw_connection(rabbit_url) as conn:
        yield conn.channel()


@pytest.fixture
def host(monkeypatch, tmp_path):
    """A queue manager hostname of the test's own, its lock dir and counters."""
    import uuid
    from pathlib import Path

    monkeypatch.setenv('OSLO_LOCK_PATH', str(tmp_path))
    name = 'kolla-test-%s' % uuid.uuid4().hex[:8]
    yield name
    for counter in Path('/dev/shm').glob('%s_*_qmanager' % name):
        counter.unlink()
