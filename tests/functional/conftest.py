"""Fixtures for tests against the real RabbitMQ.

A broker that cannot be reached skips these tests on a developer's machine
(with the reason) and fails them in CI, where .ci/run must have started it.
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
        with kombu.Connection(_kombu_url(self.url), connect_timeout=3) as conn:
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
