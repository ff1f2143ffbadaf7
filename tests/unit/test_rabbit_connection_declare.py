"""The rabbit Connection's durability fallback (WIRE.md 4.4): a durable
declaration refused over ``durable`` alone is made again non-durable."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
from amqp import exceptions as amqp_exc

from messaging.drivers.rabbit.connection import Connection
from messaging.drivers.rabbit.errors import DurableMismatch
from tests.unit.test_rabbit_connection_publish import _conf

DURABLE_REFUSED = ("PRECONDITION_FAILED - inequivalent arg 'durable' for queue 'q' in "
                   "vhost '/': received 'true' but current is 'false'")


@pytest.fixture
def connection():
    conn = Connection(_conf(), ['amqp://guest:guest@127.0.0.1:1//'])
    yield conn
    conn._closed = True


def test_a_durable_declaration_refused_over_durable_is_retried_non_durable(connection):
    asked = []

    def declare(durable):
        asked.append(durable)
        if durable:
            raise amqp_exc.PreconditionFailed(DURABLE_REFUSED)

    with pytest.raises(DurableMismatch):
        connection._declare_with_fallback('queue', 'q', True, declare)
    connection._declare_with_fallback('queue', 'q', True, declare)
    assert asked == [True, False]


def test_other_mismatches_stay_errors(connection):
    def declare(durable):
        raise amqp_exc.PreconditionFailed("PRECONDITION_FAILED - inequivalent arg "
                                          "'x-expires' for queue 'q'")

    with pytest.raises(amqp_exc.PreconditionFailed):
        connection._declare_with_fallback('queue', 'q', True, declare)


def test_a_non_durable_declaration_refused_stays_an_error(connection):
    def declare(durable):
        raise amqp_exc.PreconditionFailed(DURABLE_REFUSED)

    with pytest.raises(amqp_exc.PreconditionFailed):
        connection._declare_with_fallback('queue', 'q', False, declare)


def test_ensure_retries_on_a_fresh_channel_after_the_fallback(connection):
    channels = []

    def connect():
        channels.append(SimpleNamespace(
            connection=SimpleNamespace(transport=SimpleNamespace(sock=None))))
        connection._channel = channels[-1]

    def declare(durable):
        if durable:
            raise amqp_exc.PreconditionFailed(DURABLE_REFUSED)

    def declare_on(channel):
        connection._declare_with_fallback('exchange', 'x', True, declare)
        return channel

    connection._connect = connect
    # retry=0: the fallback is no failed attempt.
    assert connection.ensure(declare_on, retry=0) is channels[-1]
    assert len(channels) == 2
