"""Helpers for the cluster fault tests: transports on our own cluster, which
node a connection sits on, what the broker says about queues, and an RPC
endpoint that records what reached it.

The driver starts every connection on a random host of the URL (as
oslo.messaging does, to spread processes over a cluster). A test that must
know where its connections are pins that choice with ``hosts_in_url_order``;
failover after the first host is still kombu's ``kombu_failover_strategy``.
"""
from __future__ import annotations

import collections
import contextlib
import json
import logging
import sys
import threading
import time
import traceback
from typing import Any, Optional, Union

from oslo_config import cfg

import messaging
from messaging.drivers.rabbit import driver as impl_rabbit
from tests.brokers.cluster import Cluster
from tests.faults.rabbit_nodes import RabbitNodes
from tests.unit.test_rpc_support import running_server

LOG = logging.getLogger(__name__)

# Reconnect at once: the defaults wait a second or more per attempt.
FAST_RECONNECT = {'kombu_reconnect_delay': 0.05, 'rabbit_retry_interval': 0.05,
                  'rabbit_retry_backoff': 0.05}
# The options Kolla-Ansible deploys: quorum reply queues, fanout over one
# stream per topic, queue manager names (with the prefetch streams need).
KOLLA = dict(rabbit_transient_quorum_queue='true', rabbit_stream_fanout='true',
             use_queue_manager='true', rabbit_qos_prefetch_count=1)
WAIT = 20
# Calls must succeed again this soon after a node stops.
RECOVERY_BOUND = 30
# A call's timeout under the cluster tests' load, and how much longer it may
# spend publishing its request (reconnecting).
CALL_TIMEOUT = 10
CALL_MARGIN = 5

# The clusters of the fault tests: pifpaf's on loopback, or one in network
# namespaces (tests/brokers/cluster.py); both answer the same calls.
Nodes = Union[RabbitNodes, Cluster]


class _UrlOrder:
    """Stands in for the ``random`` module of the driver: keeps URL order."""

    @staticmethod
    def shuffle(hosts: list) -> None:
        """Leave ``hosts`` as the URL lists them."""


def hosts_in_url_order(monkeypatch: Any) -> None:
    """Make every connection the driver opens from now on start on the
    URL's first host (failover then follows the configured strategy)."""
    monkeypatch.setattr(impl_rabbit, 'random', _UrlOrder)


def make_transport(nodes: Nodes, indexes: Optional[list[int]] = None,
                   **options: Any) -> messaging.Transport:
    """An RPC transport on ``nodes`` (all, or ``indexes`` in that order);
    keyword arguments become ``[oslo_messaging_rabbit]`` URL query values."""
    query = '&'.join('%s=%s' % item for item in sorted(options.items()))
    conf = cfg.ConfigOpts()
    conf([])
    return messaging.get_rpc_transport(conf, nodes.url(indexes, query))


def uses_khepri(nodes: Nodes) -> bool:
    """Whether the cluster keeps its metadata in Khepri (RabbitMQ 4.2 and
    later; 4.0 and 4.1 when khepri_db is enabled) rather than in Mnesia
    (asked once per cluster)."""
    known = getattr(nodes, 'khepri', None)
    if known is None:
        try:
            answer = nodes.ctl(0, 'eval', 'rabbit_khepri:is_enabled().')
        except RuntimeError:  # RabbitMQ before 3.13 has no such module
            answer = 'false'
        known = nodes.khepri = answer.strip() == 'true'
    return known


def node_of(nodes: Nodes, connection: Any) -> int:
    """The index of the node ``connection`` (a driver Connection or
    SharedConnection) is on."""
    port = int(connection.link.host.rsplit(':', 1)[1])
    return nodes.ports.index(port)


def queues(nodes: Nodes, via: int) -> dict[str, dict]:
    """``{queue name: {"type": ..., "leader": ...}}`` as node ``via`` sees them."""
    out = nodes.ctl(via, 'list_queues', '--formatter', 'json',
                    'name', 'type', 'leader')
    return {row['name']: row for row in json.loads(out)}


def leader_index(nodes: Nodes, via: int, queue: str) -> Optional[int]:
    """The index of the node leading quorum queue ``queue``, if known."""
    leader = queues(nodes, via).get(queue, {}).get('leader')
    return nodes.nodes.index(leader) if leader in nodes.nodes else None


class RecordingEndpoint:
    """Answers ``echo`` calls and records the numbers of ``note`` casts.

    ``arrived[n]`` is when (``time.monotonic()``) cast ``n`` reached an
    endpoint of the test, each time; ``counts[n]`` how often: above 1 is
    a duplicate delivered to the application.
    """

    def __init__(self) -> None:
        self.arrived: dict[int, list[float]] = {}
        self._arrived = threading.Condition()

    def echo(self, ctxt: dict, value: Any) -> Any:
        return value

    def note(self, ctxt: dict, number: int) -> None:
        with self._arrived:
            self.arrived.setdefault(number, []).append(time.monotonic())
            self._arrived.notify_all()

    @property
    def counts(self) -> collections.Counter:
        """How often each cast arrived."""
        with self._arrived:
            return collections.Counter({n: len(at) for n, at in self.arrived.items()})

    def wait_for_casts(self, numbers: set[int], timeout: float) -> set[int]:
        """Wait until every cast of ``numbers`` arrived; returns the missing."""
        with self._arrived:
            self._arrived.wait_for(lambda: numbers <= self.arrived.keys(), timeout)
            return numbers - self.arrived.keys()

    def duplicates(self) -> dict[int, int]:
        """Casts delivered more than once, with their delivery counts."""
        with self._arrived:
            return {n: len(at) for n, at in self.arrived.items() if len(at) > 1}


def exchange_of(topic: str) -> str:
    """The exchange of ``topic``: one per test, since the quorum option
    makes exchanges durable and a transient one of the same name would
    refuse the declaration (406)."""
    return topic + '_x'


class FanoutRecorder(RecordingEndpoint):
    """Records the numbers of the ``fan`` fanout casts one server received."""

    def fan(self, ctxt: dict, number: int) -> None:
        self.note(ctxt, number)


def serving(transport: messaging.Transport, topic: str, server: str,
            *endpoints: Any) -> contextlib.AbstractContextManager:
    """An RPC server of ``topic`` on a thread pool while the block runs."""
    return running_server(transport, list(endpoints), server=server, topic=topic,
                          exchange=exchange_of(topic), executor='threading')


@contextlib.contextmanager
def two_servers_under_load(server_transport: messaging.Transport,
                           client_transport: messaging.Transport, topic: str,
                           call_timeout: float, stop_timeout: float,
                           fanout_pause: Optional[float] = None) -> Any:
    """Servers ``s1`` and ``s2`` of ``topic`` (one recording endpoint, a
    fanout recorder each) under a :class:`Load` of 8 callers from
    ``client_transport``, the load under way; yields ``(endpoint, fanouts,
    load)``. The load is stopped on the way out (its threads given
    ``stop_timeout`` seconds), then the servers."""
    endpoint = RecordingEndpoint()
    fanouts = {'s1': FanoutRecorder(), 's2': FanoutRecorder()}
    load = Load(client(client_transport, topic), callers=8, call_timeout=call_timeout,
                fanout_pause=fanout_pause)
    with serving(server_transport, topic, 's1', endpoint, fanouts['s1']), \
            serving(server_transport, topic, 's2', endpoint, fanouts['s2']):
        try:
            load.start()
            assert load.wait_until(lambda r: len(r.calls) >= 40 and len(r.casts_sent) >= 20,
                                   WAIT), 'the load did not get going'
            yield endpoint, fanouts, load
        finally:
            load.stop(join_timeout=stop_timeout)


def listener_of(transport: messaging.Transport, topic: str) -> Any:
    """The driver listener serving ``topic`` on ``transport``."""
    for listener in list(transport._driver._listeners):
        if any(name == topic for name in listener.queue_names):
            return listener
    raise AssertionError('no listener of %s on the transport' % topic)


def client(transport: messaging.Transport, topic: str, timeout: float = WAIT) -> Any:
    """An RPC client of ``topic``."""
    return messaging.get_rpc_client(
        transport, messaging.Target(topic=topic, exchange=exchange_of(topic)),
        timeout=timeout)


def call_until_ok(rpc: Any, bound: float) -> list[str]:
    """Call ``echo`` until one call succeeds or ``bound`` seconds pass.

    Returns each call's outcome in order: ``'ok'`` or the exception's class
    name; the last is ``'ok'`` unless the bound ran out.
    """
    deadline = time.monotonic() + bound
    outcomes: list[str] = []
    while time.monotonic() < deadline:
        try:
            rpc.call({}, 'echo', value=len(outcomes))
        except Exception as ex:
            LOG.info('Call during failover failed: %s', ex)
            outcomes.append(type(ex).__name__)
            continue
        outcomes.append('ok')
        break
    return outcomes


class Casts:
    """Numbered casts of one kind: ``sent`` the numbers ``cast()`` returned
    from without raising, ``started`` when each began, ``failures``
    ``(number, exception class name)``."""

    def __init__(self) -> None:
        self.sent: list[int] = []
        self.started: dict[int, float] = {}
        self.failures: list[tuple[int, str]] = []


class Load:
    """``callers`` threads calling ``echo``, one thread casting numbered
    ``note`` casts and, with ``fanout_pause``, one casting numbered ``fan``
    fanouts, until :meth:`stop`.

    Every call is recorded as ``(started, ended, outcome)`` with outcome
    ``'ok'``, ``'MessagingTimeout'``, ``'wrong reply'`` or another
    exception's class name; ``casts_sent`` holds the numbers of the casts
    that ``cast()`` returned from without raising, ``cast_started`` when
    each cast began; ``fanouts`` the same for the fanouts.
    """

    def __init__(self, rpc: Any, callers: int = 8, call_timeout: float = 10,
                 cast_pause: float = 0.01, fanout_pause: Optional[float] = None) -> None:
        self.call_timeout = call_timeout
        self.calls: list[tuple[float, float, str]] = []
        self.casts = Casts()
        self.casts_sent = self.casts.sent
        self.cast_started = self.casts.started
        self.cast_failures = self.casts.failures
        self.fanouts = Casts()
        self._rpc = rpc.prepare(timeout=call_timeout)
        self._stopping = threading.Event()
        self._changed = threading.Condition()
        self._threads = [threading.Thread(target=self._call_loop, args=(i,), daemon=True,
                                          name='load-caller-%d' % i)
                         for i in range(callers)]
        self._threads.append(threading.Thread(
            target=self._cast_loop, args=(self._rpc, 'note', self.casts, cast_pause),
            daemon=True, name='load-caster'))
        if fanout_pause is not None:
            self._threads.append(threading.Thread(
                target=self._cast_loop,
                args=(self._rpc.prepare(fanout=True), 'fan', self.fanouts, fanout_pause),
                daemon=True, name='load-fanout'))

    def start(self) -> 'Load':
        for thread in self._threads:
            thread.start()
        return self

    def _call_loop(self, caller: int) -> None:
        sequence = 0
        while not self._stopping.is_set():
            value = [caller, sequence]
            sequence += 1
            started = time.monotonic()
            try:
                outcome = 'ok' if self._rpc.call({}, 'echo', value=value) == value \
                    else 'wrong reply'
            except Exception as ex:
                outcome = type(ex).__name__
            with self._changed:
                self.calls.append((started, time.monotonic(), outcome))
                self._changed.notify_all()

    def _cast_loop(self, rpc: Any, method: str, casts: Casts, pause: float) -> None:
        number = 0
        while not self._stopping.is_set():
            casts.started[number] = time.monotonic()
            try:
                rpc.cast({}, method, number=number)
            except Exception as ex:
                LOG.warning('Cast %s %d failed: %s', method, number, ex)
                with self._changed:
                    casts.failures.append((number, type(ex).__name__))
            else:
                with self._changed:
                    casts.sent.append(number)
                    self._changed.notify_all()
            number += 1
            # Pace the casts so that the callers get a fair share of the
            # servers; this is load shaping, not synchronisation.
            self._stopping.wait(pause)

    def wait_until(self, predicate: Any, timeout: float) -> bool:
        """Wait until ``predicate(self)`` holds; False if ``timeout`` ran out."""
        with self._changed:
            return self._changed.wait_for(lambda: predicate(self), timeout)

    def ok_calls_started_after(self, moment: float) -> list[tuple[float, float, str]]:
        """Successful calls that started after ``moment``."""
        return [c for c in self.calls if c[0] > moment and c[2] == 'ok']

    def stop(self, join_timeout: float) -> list[str]:
        """Stop and join every thread; returns the names of those still alive."""
        self._stopping.set()
        deadline = time.monotonic() + join_timeout
        for thread in self._threads:
            thread.join(max(deadline - time.monotonic(), 0))
        return [thread.name for thread in self._threads if thread.is_alive()]


def stacks_of(names: list[str]) -> str:
    """The current stacks of the threads called ``names``, for the message
    of a failed assertion that they ended."""
    frames = sys._current_frames()
    return '\n'.join('%s:\n%s' % (thread.name, ''.join(traceback.format_stack(
        frames[thread.ident]))) for thread in threading.enumerate()
        if thread.name in names and thread.ident in frames)


def broker_state(nodes: Nodes, via: int) -> str:
    """Queues, consumers and bindings as node ``via`` sees them, for the
    message of a failed assertion."""
    return '\n'.join(nodes.ctl(via, *command) for command in (
        ('list_queues', 'name', 'pid', 'consumers', 'messages'),
        ('list_consumers', 'queue_name', 'channel_pid', 'consumer_tag'),
        ('list_bindings', 'source_name', 'destination_name', 'routing_key')))
