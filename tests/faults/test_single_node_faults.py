"""Faults of one RabbitMQ node of our own, under RPC load.

Each test stands up an RPC server and clients on a node no other test
uses, breaks the node (restart, connections closed, memory alarm, a stalled
network), and checks that the driver rides through: nothing hangs, calls
in flight return or time out within their timeout, casts that returned are
delivered, and the first call after the fault succeeds. Every test leaves
the node healthy for the next, even when it fails.
"""
from __future__ import annotations

import contextlib
import logging
import threading
import time
import uuid
from typing import Callable, Iterator

import pytest
from oslo_config import cfg

import messaging
from messaging.drivers.rabbit.errors import PublishTimeout
from tests.faults.cluster_helpers import RecordingEndpoint, hosts_in_url_order
from tests.faults.figures import record
from tests.faults.rabbit_nodes import PASSWORD, USER
from tests.faults.tcp_proxy import CONFIRMS, DECLARE_OK, DELIVERIES, TcpProxy
from tests.functional.rabbit_helpers import hearing

pytestmark = pytest.mark.timeout(90)

FAST_RECONNECT = ('kombu_reconnect_delay=0.1&rabbit_retry_interval=0.2'
                  '&rabbit_retry_backoff=0.2&rabbit_interval_max=1')
CALL_TIMEOUT = 5
# "Does not hang": far above any timeout in play, far below pytest's.
JOIN_BOUND = 30
DRIVER_LOGGER = 'messaging.drivers.rabbit'
# oslo.messaging's words for a connection whose heartbeat failed.
HEARTBEAT_FAILED = 'A recoverable connection/channel error occurred'


@contextlib.contextmanager
def rpc_setup(url: str) -> Iterator[tuple[messaging.RPCClient, RecordingEndpoint, object]]:
    """A transport, a server on a fresh topic, and a client of it."""
    transport = messaging.get_rpc_transport(cfg.ConfigOpts(), url)
    topic = 'faults_%s' % uuid.uuid4().hex[:10]
    target = messaging.Target(topic=topic, server='s1', exchange=topic + '_x')
    endpoint = RecordingEndpoint()
    server = messaging.get_rpc_server(transport, target, [endpoint], executor='threading')
    server.start()
    try:
        client = messaging.get_rpc_client(transport, target(server=None),
                                          timeout=CALL_TIMEOUT)
        assert client.call({}, 'echo', value='warm') == 'warm'
        yield client, endpoint, transport
    finally:
        server.stop()
        server.wait()
        transport.cleanup()


class Load:
    """Callers and one caster running against ``client`` until stopped.

    Keeps what each call did and the ids of the casts ``cast()`` returned
    from without error: those the broker confirmed, which must arrive.
    """

    def __init__(self, client: messaging.RPCClient, callers: int = 3) -> None:
        self._client = client
        self._stop = threading.Event()
        self._lock = threading.Condition()  # notified as each call passes
        self.calls_ok = 0
        self.call_errors: list[BaseException] = []
        self.casts_sent: set[int] = set()
        self.cast_errors: list[BaseException] = []
        self._threads = [threading.Thread(target=self._call_loop, daemon=True)
                         for _ in range(callers)]
        self._threads.append(threading.Thread(target=self._cast_loop, daemon=True))

    def __enter__(self) -> 'Load':
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=JOIN_BOUND)

    @property
    def hung(self) -> int:
        """Threads still running after ``__exit__`` joined them."""
        return sum(thread.is_alive() for thread in self._threads)

    def _call_loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._client.call({}, 'echo', value=1)
            except Exception as ex:
                with self._lock:
                    self.call_errors.append(ex)
            else:
                with self._lock:
                    self.calls_ok += 1
                    self._lock.notify_all()
            self._stop.wait(0.02)  # pacing, not synchronisation

    def _cast_loop(self) -> None:
        next_id = 0
        while not self._stop.is_set():
            next_id += 1
            try:
                self._client.cast({}, 'note', number=next_id)
            except Exception as ex:
                with self._lock:
                    self.cast_errors.append(ex)
            else:
                with self._lock:
                    self.casts_sent.add(next_id)
            self._stop.wait(0.02)

    def wait_for_calls(self, count: int, timeout: float = JOIN_BOUND) -> None:
        """Wait until ``count`` calls passed, woken as each one does."""
        with self._lock:
            passed = self._lock.wait_for(lambda: self.calls_ok >= count, timeout)
        assert passed, 'the load made no progress'


class LogWatch(logging.Handler):
    """Keeps the driver's log records; a test can await one that matches."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self._arrived = threading.Condition()

    def emit(self, record: logging.LogRecord) -> None:
        with self._arrived:
            self.records.append(record)
            self._arrived.notify_all()

    def matching(self, text: str, level: int = logging.DEBUG) -> list[logging.LogRecord]:
        with self._arrived:
            return [r for r in self.records
                    if text in r.getMessage() and r.levelno >= level]

    def wait_for(self, text: str, level: int = logging.DEBUG,
                 timeout: float = JOIN_BOUND) -> logging.LogRecord:
        """The first record saying ``text``, once one was logged."""
        found = self.wait_until(lambda: self.matching(text, level), timeout)
        assert found, 'no log record saying %r within %s s' % (text, timeout)
        return found[0]

    def wait_until(self, predicate: Callable[[], object],
                   timeout: float = JOIN_BOUND) -> object:
        """``predicate()`` once true, checked as each record arrives."""
        with self._arrived:
            return self._arrived.wait_for(predicate, timeout)


@pytest.fixture
def driver_log() -> Iterator[LogWatch]:
    """The rabbit driver's log records, at every level, from every thread."""
    with hearing(DRIVER_LOGGER, LogWatch(), logging.DEBUG) as watch:
        yield watch


# The first call after a fault may wait for the server's and the reply
# waiter's connections to come back: it must succeed, not be quick.
FIRST_CALL_TIMEOUT = 15


def first_successful_call(client: messaging.RPCClient) -> None:
    """The first call after a fault: it must succeed, within its timeout."""
    assert client.prepare(timeout=FIRST_CALL_TIMEOUT).call(
        {}, 'echo', value='after') == 'after'


def ride_through(own_node, fault: str, break_node: Callable[[], None],
                 heal_node: Callable[[], None], query: str = '') -> None:
    """Break the node under load, heal it, and check nothing was lost."""
    url = own_node.url(query=FAST_RECONNECT + query)
    with rpc_setup(url) as (client, endpoint, _transport):
        with Load(client) as load:
            load.wait_for_calls(5)
            started = time.monotonic()
            try:
                break_node()
            finally:
                heal_node()
            healed = time.monotonic()
            first_successful_call(client)
            recovered = time.monotonic()
            load.wait_for_calls(load.calls_ok + 5)
        assert load.hung == 0, 'a caller or the caster hung'
        assert all(isinstance(ex, messaging.MessagingTimeout) for ex in load.call_errors), \
            load.call_errors
        assert load.cast_errors == []
        lost = endpoint.wait_for_casts(set(load.casts_sent), timeout=JOIN_BOUND)
        record(fault, recovery_s=round(recovered - healed, 2),
               fault_s=round(healed - started, 2), calls_failed=len(load.call_errors),
               calls_ok=load.calls_ok, casts_sent=len(load.casts_sent),
               casts_lost=len(lost))
        assert not lost, 'casts confirmed but never delivered: %s' % sorted(lost)


def test_clients_and_servers_ride_through_a_broker_restart(own_node):
    """Stop and start the broker app while calls and casts flow.

    Casts are only promised across a restart with durable queues: a classic
    non-durable queue, and the messages in it, do not survive the broker
    stopping, so a cast the broker confirmed but no server had taken yet
    is lost with it. Hence ``amqp_durable_queues=true`` here (the persistent
    delivery mode the driver always sets then keeps them on disk).
    """
    ride_through(own_node, 'broker restart', lambda: own_node.stop_app(0),
                 lambda: own_node.start_app(0), query='&amqp_durable_queues=true')


def test_clients_and_servers_ride_through_all_connections_closed(own_node):
    """``rabbitmqctl close_all_connections``: every client is cut at once."""
    ride_through(own_node, 'close_all_connections',
                 lambda: own_node.close_all_connections(0, 'fault test'), lambda: None)


@contextlib.contextmanager
def memory_alarm(own_node) -> Iterator[Callable[[], None]]:
    """Raise a memory alarm on the node; yields a function that lifts it.

    Lifted on the way out in any case, so the node stays usable.
    """
    own_node.ctl(0, 'set_vm_memory_high_watermark', '0')
    try:
        yield lambda: own_node.ctl(0, 'set_vm_memory_high_watermark', '0.4')
    finally:
        own_node.ctl(0, 'set_vm_memory_high_watermark', '0.4')


def test_a_call_waits_out_a_memory_alarm_lifted_before_its_timeout(own_node, driver_log):
    """The broker blocks publishers; the call logs it, waits, and succeeds."""
    with rpc_setup(own_node.url(query=FAST_RECONNECT)) as (client, _endpoint, _t):
        outcome: list[object] = []
        caller = threading.Thread(target=lambda: outcome.append(
            client.prepare(timeout=JOIN_BOUND).call({}, 'echo', value='through')),
            daemon=True)
        with memory_alarm(own_node) as lift:
            started = time.monotonic()
            caller.start()
            blocked = driver_log.wait_for('blocked publishing', logging.WARNING)
            lift()
        caller.join(timeout=JOIN_BOUND)
        assert not caller.is_alive(), 'the call hung after the alarm was lifted'
        recovered = time.monotonic()
        assert outcome == ['through']
        assert 'memory or disk alarm' in blocked.getMessage()
        driver_log.wait_for('unblocked publishing')
        record('memory alarm lifted in time', recovery_s=round(recovered - started, 2),
               calls_failed=0, calls_ok=1, casts_sent=0, casts_lost=0)


def test_publishers_fail_clearly_when_a_memory_alarm_outlasts_their_timeout(
        own_node, driver_log):
    """Past its timeout, a call (and a cast past publish_timeout) raises an
    error naming the alarm, in bounded time; once lifted, calls work again."""
    # The node twice: a blocked broker is not a host to leave.
    url = own_node.url([0, 0], query=FAST_RECONNECT + '&publish_timeout=2')
    with rpc_setup(url) as (client, _endpoint, _transport):
        with memory_alarm(own_node) as lift:
            started = time.monotonic()
            with pytest.raises(messaging.MessagingTimeout) as call_failure:
                client.prepare(timeout=2).call({}, 'echo', value='blocked')
            call_failed_after = time.monotonic() - started
            with pytest.raises(messaging.MessageDeliveryFailure) as cast_failure:
                client.cast({}, 'note', number=1)
            # Too large for the socket buffers: the write itself stalls, and
            # the broker's connection.blocked stays unread behind it.
            big_started = time.monotonic()
            with pytest.raises(messaging.MessageDeliveryFailure) as big_cast_failure:
                client.cast({}, 'note', number='x' * 30_000_000)
            big_failed_after = time.monotonic() - big_started
            lift()
        lifted = time.monotonic()
        first_successful_call(client)
        recovered = time.monotonic()
    for failure in (call_failure, cast_failure):
        assert isinstance(failure.value, PublishTimeout)
        assert 'blocked publishing' in str(failure.value)
        assert 'vm_memory_high_watermark' in str(failure.value)
    assert isinstance(big_cast_failure.value, PublishTimeout)
    assert 'memory or disk alarm' in str(big_cast_failure.value)
    assert call_failed_after < JOIN_BOUND and big_failed_after < JOIN_BOUND
    assert driver_log.matching('was not confirmed within', logging.ERROR)
    assert not driver_log.matching('nor blocked publishing')
    record('memory alarm past the timeout', recovery_s=round(recovered - lifted, 2),
           call_failed_after_s=round(call_failed_after, 2),
           big_cast_failed_after_s=round(big_failed_after, 2), calls_failed=1, calls_ok=1,
           casts_sent=0, casts_lost=0)


def test_missed_heartbeats_are_detected_and_the_connections_replaced(own_node, driver_log):
    """A stalled network (the proxy freezes: sockets open, nothing flows) is
    found by heartbeats on every connection, idle pooled send connections
    and listening ones alike; after the thaw they reconnect and calls work."""
    proxy = TcpProxy(own_node.ports[0])
    url = 'rabbit://%s:%s@127.0.0.1:%d/?%s&heartbeat_timeout_threshold=2&heartbeat_rate=2' % (
        USER, PASSWORD, proxy.port, FAST_RECONNECT)
    try:
        with rpc_setup(url) as (client, _endpoint, transport):
            driver = transport._driver
            # The caller can have its reply before the server's reply
            # connection, still awaiting its confirm, is back in the pool;
            # nothing signals its return.
            deadline = time.monotonic() + JOIN_BOUND
            while not driver._pool._idle and time.monotonic() < deadline:
                time.sleep(0.01)
            senders = {connection.name for connection, _ in driver._pool._idle}
            listeners = {listener.connection.name for listener in driver._listeners}
            listeners.add(driver._reply_waiter._connection.name)
            assert senders and len(listeners) == 2
            accepted = proxy.accepted
            proxy.freeze()
            frozen = time.monotonic()

            def detected() -> set[str]:
                return {record.connection_name for record in driver_log.matching(
                    HEARTBEAT_FAILED, logging.INFO)} & (senders | listeners)

            driver_log.wait_until(lambda: detected() == senders | listeners)
            assert detected() == senders | listeners
            detected_after = time.monotonic() - frozen
            assert 'heartbeats missed' in driver_log.matching(
                HEARTBEAT_FAILED, logging.INFO)[0].getMessage()
            proxy.thaw()
            first_successful_call(client)
            recovered = time.monotonic()
            assert proxy.accepted > accepted, 'no connection was replaced'
    finally:
        proxy.close()
    record('missed heartbeats (network stalled)', recovery_s=round(recovered - frozen, 2),
           detected_s=round(detected_after, 2), calls_failed=0, calls_ok=1, casts_sent=0,
           casts_lost=0)


def test_a_host_that_confirms_and_delivers_nothing_is_left_for_the_next(
        own_node, driver_log, monkeypatch):
    """A host that takes connections and publishes but confirms and delivers
    nothing, as a RabbitMQ 4 node cut off from its cluster's majority does
    (here a proxy that withholds them), costs the client one call: the
    publish that went unconfirmed moves every connection of its transport
    on that host to the URL's next host, the reply connection (which
    publishes nothing) among them, and the next call and cast succeed."""
    hosts_in_url_order(monkeypatch)
    proxy = TcpProxy(own_node.ports[0])
    withholding = '127.0.0.1:%d' % proxy.port
    direct = '127.0.0.1:%d' % own_node.ports[0]
    client_url = 'rabbit://%s:%s@%s,%s:%s@%s/?%s' % (USER, PASSWORD, withholding, USER,
                                                     PASSWORD, direct, FAST_RECONNECT)
    conf = cfg.ConfigOpts()
    client_transport = messaging.get_rpc_transport(conf, client_url)
    try:
        with rpc_setup(own_node.url(query=FAST_RECONNECT)) as (server_client, endpoint, _):
            client = messaging.get_rpc_client(client_transport, server_client.target,
                                              timeout=CALL_TIMEOUT)
            assert client.call({}, 'echo', value='warm') == 'warm'
            reply_connection = client_transport._driver._reply_waiter._connection
            assert reply_connection.link.host == withholding
            proxy.withhold(*CONFIRMS, *DELIVERIES)
            started = time.monotonic()
            with pytest.raises(PublishTimeout):
                client.prepare(timeout=2).call({}, 'echo', value='unconfirmed')
            assert client.call({}, 'echo', value='after') == 'after'
            recovered = time.monotonic()
            warning = driver_log.wait_for('neither confirmed it in time nor blocked '
                                          'publishing', logging.WARNING)
            assert withholding in warning.getMessage()
            client.cast({}, 'note', number=1)
            assert endpoint.wait_for_casts({1}, JOIN_BOUND) == set()
            assert reply_connection.link.host == direct
    finally:
        client_transport.cleanup()
        proxy.close()
    record('a host confirming and delivering nothing', recovery_s=round(recovered - started, 2),
           calls_failed=1, calls_ok=1, casts_sent=1, casts_lost=0)


def test_a_caller_is_not_held_past_its_timeout_by_a_declaration_the_broker_holds(
        own_node, driver_log):
    """The caller that reads the reply connection when it breaks reconnects
    it; a broker that then holds the reply queue's declaration (a queue
    whose leader is out of its reach; here a proxy withholding
    ``queue.declare-ok``) keeps the caller no longer than a connect's
    bound past its timeout, instead of until the broker gives up on the
    silent connection (missed heartbeats: minutes)."""
    proxy = TcpProxy(own_node.ports[0])
    url = 'rabbit://%s:%s@127.0.0.1:%d/?%s' % (USER, PASSWORD, proxy.port, FAST_RECONNECT)
    transport = messaging.get_rpc_transport(cfg.ConfigOpts(), url)
    outcome: list[BaseException] = []
    try:
        with rpc_setup(own_node.url(query=FAST_RECONNECT)) as (server_client, _endpoint, _t):
            assert messaging.get_rpc_client(transport, server_client.target).call(
                {}, 'echo', value='warm') == 'warm'
            # No server listens on this topic: the caller waits, reading.
            unserved = messaging.get_rpc_client(
                transport, messaging.Target(topic='unserved_%s' % uuid.uuid4().hex[:8]),
                timeout=2)

            def call() -> None:
                try:
                    unserved.call({}, 'echo', value='never')
                except BaseException as ex:  # noqa: BLE001 - the outcome is checked
                    outcome.append(ex)

            caller = threading.Thread(target=call, daemon=True)
            started = time.monotonic()
            caller.start()
            proxy.withhold(*DECLARE_OK)
            proxy.drop()
            caller.join(timeout=JOIN_BOUND)
            ended = time.monotonic()
            assert not caller.is_alive(), 'the caller was held by the declaration'
            proxy.withhold()
            assert messaging.get_rpc_client(transport, server_client.target).call(
                {}, 'echo', value='after') == 'after'
    finally:
        transport.cleanup()
        proxy.close()
    assert [type(ex) for ex in outcome] == [messaging.MessagingTimeout]
    # Its timeout, then at most one connect's bound (5 s) more.
    assert ended - started < 2 + 5 + 1


def test_a_reply_queue_check_the_broker_does_not_answer_gives_up_and_reconnects(
        own_node, driver_log):
    """After a call times out, the reply queue is checked (a passive
    declare). A broker that holds the answer (here a proxy withholding
    ``queue.declare-ok``) fails the check within a connect's bound, with a
    WARNING, and the connection is made again, instead of the reply
    connection's reader waiting until the broker gives up on the silent
    connection; once the broker answers again, calls succeed."""
    proxy = TcpProxy(own_node.ports[0])
    url = 'rabbit://%s:%s@127.0.0.1:%d/?%s' % (USER, PASSWORD, proxy.port, FAST_RECONNECT)
    transport = messaging.get_rpc_transport(cfg.ConfigOpts(), url)
    try:
        with rpc_setup(own_node.url(query=FAST_RECONNECT)) as (server_client, _endpoint, _t):
            client = messaging.get_rpc_client(transport, server_client.target,
                                              timeout=CALL_TIMEOUT)
            assert client.call({}, 'echo', value='warm') == 'warm'
            proxy.withhold(*DECLARE_OK)
            unserved = messaging.get_rpc_client(
                transport, messaging.Target(topic='unserved_%s' % uuid.uuid4().hex[:8]),
                timeout=1)
            with pytest.raises(messaging.MessagingTimeout):
                unserved.call({}, 'echo', value='never')
            warning = driver_log.wait_for('Could not check reply queue', logging.WARNING)
            assert 'check that queue' in warning.getMessage()
            proxy.withhold()
            first_successful_call(client)
    finally:
        transport.cleanup()
        proxy.close()
