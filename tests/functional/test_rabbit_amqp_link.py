"""The rabbit driver's connections are its frame engine's on a real broker,
for the first broker URL and for one reached by failover: on the lean
engine amqp_link's (our transport, frame writer and dispatch registries),
on the stock engine py-amqp's own. Both engines run here, whichever the
test run's default is."""
from __future__ import annotations

import threading

import amqp
import pytest
from amqp import transport as amqp_transport

from messaging.drivers.rabbit.engine import ENGINES, amqp_link
from messaging.drivers.rabbit.connection import Connection
from messaging.drivers.rabbit.shared_connection import SharedConnection
from messaging.drivers.rabbit.declarations import QueueSpec
from tests.unit.rabbit_fakes import conf

WAIT = 10
# Nothing listens there: connecting is refused at once.
DEAD_URL = 'amqp://guest:guest@127.0.0.1:1//'


@pytest.fixture
def kombu_url(rabbit_url) -> str:
    return 'amqp://' + rabbit_url.split('://', 1)[1]


@pytest.fixture(params=sorted(ENGINES))
def engine(request) -> str:
    return request.param


@pytest.fixture
def connections(engine):
    """Make driver connections on ``engine`` (``connections(urls,
    confirm=True)``): a send Connection, or without confirms a reply-style
    SharedConnection read by the test; closed after the test."""
    made = []

    def make(urls, confirm=True):
        options = conf(publish_timeout=5.0, rabbit_frame_engine=engine)
        made.append(Connection(options, urls) if confirm
                    else SharedConnection(options, urls, io_thread=False))
        return made[-1]

    yield make
    for connection in made:
        connection.close()


def _round_trip(send: Connection, listen: SharedConnection, queue: str) -> dict:
    """Consume ``queue`` on ``listen``, publish to it on ``send`` (with its
    confirm) and return the message body received."""
    received = []
    arrived = threading.Event()

    def on_message(message) -> None:
        received.append(message)
        listen.ack(message.channel, message.delivery_tag)
        arrived.set()

    listen.declare_consumer(QueueSpec(queue, durable=False, auto_delete=True), on_message)
    send.publish(None, queue, {'hello': 'link'}, retry=None)
    for _ in range(int(WAIT / 0.25)):
        listen.read(0.25)
        if arrived.is_set():
            break
    assert arrived.is_set()
    return listen.codec.decode(received[0])


def _assert_engine(engine: str, channel) -> amqp.Connection:
    """The py-amqp connection under ``channel``, checked to be ``engine``'s."""
    link = channel.connection
    if engine == 'lean':
        assert isinstance(link, amqp_link.AmqpLink)
        assert type(link.transport) is amqp_link.LinkTransport
    else:
        assert not isinstance(link, amqp_link.AmqpLink)
        assert type(link.transport) is amqp_transport.TCPTransport
    return link


def test_deliveries_and_confirms_reach_the_engines_handlers(engine, connections, kombu_url,
                                                            unique_name, broker_cleanup):
    queue = broker_cleanup.queue(unique_name('link'))
    send, listen = connections([kombu_url]), connections([kombu_url], confirm=False)
    assert _round_trip(send, listen, queue) == {'hello': 'link'}
    sent = _assert_engine(engine, send.channel)
    listened = _assert_engine(engine, listen.channel)
    if engine == 'lean':
        assert sent.confirm_handlers[send.channel.channel_id][0] is send.channel
        assert listened.consumers[(listen.channel.channel_id, '1')][0] is listen.channel
    else:
        assert len(send.channel.events['basic_ack']) == 1
        assert '1' in listen.channel.callbacks


def test_a_broker_reached_by_failover_gets_the_engines_connection_too(
        engine, connections, kombu_url, unique_name, broker_cleanup):
    # kombu takes the next URL's scheme as its transport on failover: our
    # kombu connection must keep the engine's for it.
    queue = broker_cleanup.queue(unique_name('failover'))
    send = connections([DEAD_URL, kombu_url])
    listen = connections([DEAD_URL, kombu_url], confirm=False)
    assert _round_trip(send, listen, queue) == {'hello': 'link'}
    _assert_engine(engine, send.channel)
    _assert_engine(engine, listen.channel)
