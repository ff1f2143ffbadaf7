"""The link: one AMQP connection and its one channel, reconnected on demand,
the locks that keep its frames whole, the socket timeouts, and ``ensure``,
the one retry path every broker operation of the driver goes through.

Every driver connection is built on a ``Link`` (connection.py,
shared_connection.py), whose other parts use its public methods only.

The locking protocol
--------------------
(checked under load by tests/functional/test_rabbit_connection_concurrency.py)

- The *read lock* is held by whoever reads frames from the socket, and for
  every synchronous round trip: ``ensure`` always takes it. It also guards
  the channel, a reconnect, and the consumer set's bookkeeping.
- The *write lock* is held by whoever writes a frame (a publish, an ack, a
  heartbeat), for the whole of ``ensure(writes=True)`` and ``exclusive``
  (a declaration or a cancel waits for its answer holding it), and around
  a reconnect. ``ensure(writes=False)`` (a reader's step, a publish waiting for its
  confirm) leaves it free while waiting, so that other threads can ack and
  send heartbeats meanwhile.
- Order: the turn (below), the read lock, the write lock, and innermost
  the frame writer's own (the lean engine's, engine/amqp_link.py), held
  for one write. A thread
  holding the write lock alone takes no other lock and waits for nothing
  but the socket to take its frame. No lock is held while a backoff is
  waited out. Consumer callbacks run on the reading thread, read lock
  held: they may ack, and must not wait for a thread that needs that lock.
- The heartbeat thread takes the read lock only when it is free
  (``reading_if_free``): it never waits for a reader.
- On a listening connection (read by its reader, reader.py), any other
  thread takes a turn before the read lock (``ensure``, ``exclusive`` and
  ``close`` do; io_turns.py): the turn wakes the reader, which holds the
  read lock only while frames are there and then waits for the turns to
  end. Acks and heartbeats need the write lock only, and no turn.

Socket timeouts
---------------
py-amqp sets the socket's timeout before every read and puts the old one
back after: two system calls per read. Ours stay set instead, under one
rule: whoever reads sets, through the link, the timeout its read needs,
and relies on nobody to restore it: ``ensure`` sets the deadline's (none
without one) before a synchronous method, ``exclusive`` its caller's,
``publish_timeout`` bounds a publish and its confirm, ``wait_timeout`` a
wait for deliveries (the reader's step). py-amqp's reads with a
timeout of their own (the heartbeat's idle read) put back what they change.
"""
from __future__ import annotations

import contextlib
import os
import threading
import time
import uuid
from typing import Any, Callable, Iterator, Optional, Protocol

import amqp

from messaging import exceptions
from messaging.drivers.rabbit import backoff
from messaging.drivers.rabbit.confirms import PublishConfirms
from messaging.drivers.rabbit.declarations import ChannelDeclarer
from messaging.drivers.rabbit.engine import engine_named
from messaging.drivers.rabbit.errors import (RECOVERABLE, RETRIED_OR_REFUSED, DeclareAgain,
                                             PublishTimeout, not_ready_yet, out_of_time,
                                             refusal)
from messaging.drivers.rabbit.io_turns import IoTurns
from messaging.drivers.rabbit.options import PROCESS_NAME
from messaging.drivers.rabbit.retry_log import RetryLog
from messaging.drivers.rabbit.unconfirming_hosts import UnconfirmingHosts
from messaging import log_names

LOG = log_names.get_logger(__name__)

_NOTHING = contextlib.nullcontext()


def connection_name() -> str:
    """``<program>:<pid>:<uuid4>``, how RabbitMQ shows our connections."""
    return '%s:%d:%s' % (PROCESS_NAME, os.getpid(), uuid.uuid4())


class ChannelUser(Protocol):
    """A part of a connection that sets up its state on each new channel."""

    def channel_opened(self, channel: amqp.Channel) -> None:
        """Called under both locks after each (re)connect, before the
        operation that connected runs; what it raises, the retry path
        handles as the operation's own failure."""


class Link:
    """One AMQP connection and its channel, reconnected on demand.

    :param conf: the driver's view of ``[oslo_messaging_rabbit]``.
    :param broker_urls: kombu URLs, one per host, tried in failover order.
    :param confirm: publisher confirms (send connections); without,
        ``rabbit_qos_prefetch_count`` applies (listening connections).
    :param turns: the turns of the reader that reads this link, if one does.
    :param unconfirming: the hosts to leave, shared by the driver's send
        and reply links; by default this link's own.
    """

    def __init__(self, conf: Any, broker_urls: list[str], ssl: Any = False,
                 confirm: bool = True, turns: Optional[IoTurns] = None,
                 unconfirming: Optional[UnconfirmingHosts] = None) -> None:
        self._conf = conf
        #: The frame engine the ``rabbit_frame_engine`` option names
        #: (engine/): what this link's parts write and read frames with.
        self.engine = engine_named(conf.rabbit_frame_engine)
        self.name = connection_name()
        #: The id oslo.messaging's log lines show in brackets: the name's uuid.
        self.connection_id = self.name.rsplit(':', 1)[-1]
        #: The channel's publisher confirms and the broker's blocked state.
        self.confirms = PublishConfirms(lambda: self.host, self.name, self.engine)
        #: What was declared on the current channel.
        self.declarer = ChannelDeclarer(lambda: self.host)
        self.confirm = confirm
        self._kombu = self.engine.kombu_connection(
            broker_urls, ssl=ssl, login_method=conf.rabbit_login_method,
            heartbeat=conf.heartbeat_timeout_threshold,
            failover_strategy=conf.kombu_failover_strategy,
            # Confirms are awaited here, not by py-amqp, whose wait has no
            # overall deadline (each frame received restarts its timeout).
            transport_options={'confirm_publish': False,
                               'on_blocked': self.confirms.on_blocked,
                               'on_unblocked': self.confirms.on_unblocked,
                               'client_properties': {'connection_name': self.name}})
        self._read_lock = threading.RLock()
        self._write_lock = threading.RLock()
        self._turns = turns
        self._channel: Optional[amqp.Channel] = None
        self._users: list[ChannelUser] = []
        # The backoff of background operations: failed reconnects in a row,
        # and when the next may start (see ensure's ``background``).
        self._failed_attempts = 0
        self._retry_at: Optional[float] = None
        self._broken = False
        self._unconfirming = unconfirming if unconfirming is not None else UnconfirmingHosts()
        # With one host there is nowhere else to go.
        self._host_count = len(broker_urls)
        self._connected_at = 0.0
        #: How many times the connection was (re)established: a change tells
        #: a caller that it was lost meanwhile (and its queues declared again).
        self.generation = 0
        self._closing = threading.Event()
        self._log = RetryLog(self.name, self.connection_id)

    def __repr__(self) -> str:
        return '<Link %s %r>' % (self.name, self._kombu)

    @property
    def host(self) -> str:
        """The current broker as ``host:port`` (never with credentials)."""
        return '%s:%s' % (self._kombu.hostname, self._kombu.port or 5672)

    @property
    def vhost(self) -> str:
        """The virtual host of the current broker URL."""
        return self._kombu.virtual_host or '/'

    @property
    def channel(self) -> Optional[amqp.Channel]:
        """The current channel; deliveries from an older one cannot be acked."""
        return self._channel

    @property
    def usable(self) -> bool:
        """Whether there is a channel not known to be broken."""
        return self._channel is not None and not self._broken

    @property
    def retry_at(self) -> Optional[float]:
        """When a background operation may try to reconnect again (None: now)."""
        return self._retry_at

    def is_closing(self) -> bool:
        """Whether ``close`` was called."""
        return self._closing.is_set()

    def wait_closing(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for ``close``; whether it came."""
        return self._closing.wait(timeout)

    def add_channel_user(self, user: ChannelUser) -> None:
        """Have ``user.channel_opened`` called on every new channel."""
        self._users.append(user)

    def mark_broken(self) -> None:
        """The connection failed outside the retry path (an ack, a heartbeat,
        a cancel): the next operation reconnects."""
        self._broken = True

    # -- connecting and closing ----------------------------------------------

    def _connect(self, deadline: Optional[float] = None) -> None:
        # Past hosts that did not confirm a publish of the driver of late,
        # while another host is left to try (unconfirming_hosts.py).
        for _ in range(self._host_count - 1 if self._unconfirming else 0):
            if not self._unconfirming.avoided(self.host):
                break
            self._kombu.maybe_switch_next()
        # Each step of the TCP and AMQP handshakes waits at most this long.
        self._kombu.connect_timeout = backoff.connect_timeout(deadline)
        self._kombu.ensure_connection(max_retries=0, reraise_as_library_errors=False)
        channel = self._kombu.channel()
        # The declarations the channel's users make on it answer within a
        # connect's bound too: one the broker holds (a queue whose leader is
        # out of its reach) must not hold the reader, nor a caller stepping
        # it, past that.
        self.engine.set_socket_timeout(channel.connection, backoff.connect_timeout(deadline))
        self.confirms.new_channel(channel if self.confirm else None)
        if not self.confirm and self._conf.rabbit_qos_prefetch_count > 0:
            channel.basic_qos(0, self._conf.rabbit_qos_prefetch_count, False)
        self._channel = channel
        self.declarer.forget()
        self._broken = False
        self._connected_at = time.monotonic()
        self.generation += 1
        for user in self._users:
            user.channel_opened(channel)
        LOG.debug('Connected %s to %s', self.name, self.host)

    def _reset(self) -> None:
        """Drop the channel and socket; the next operation reconnects."""
        self._channel = None
        self.declarer.forget()
        try:
            self._kombu.collect()
        except Exception:  # a dead socket may fail to close: nothing to save
            LOG.debug('Ignoring error while releasing connection %s', self.name,
                      exc_info=True)

    def close(self) -> None:
        """Close the connection; operations under way or to come fail."""
        self._closing.set()
        if self._turns is not None:
            self._turns.stop()
        with self._turn(), self._read_lock, self._write_lock:
            self._channel = None
            try:
                self._kombu.release()
            except Exception:
                LOG.debug('Ignoring error while closing %s', self.name, exc_info=True)

    def _turn(self) -> contextlib.AbstractContextManager:
        return self._turns.turn() if self._turns is not None else _NOTHING

    @contextlib.contextmanager
    def exclusive(self, timeout: float) -> Iterator[Optional[amqp.Channel]]:
        """Hold the connection (turn, read and write locks) for methods run
        outside the retry path (a cancel), each read bounded by ``timeout``;
        yields the channel, or None while there is none usable."""
        with self._turn(), self._read_lock, self._write_lock:
            channel = self._channel if self.usable else None
            if channel is not None:
                self.engine.set_socket_timeout(channel.connection, timeout)
            yield channel

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        """Hold the write lock while writing frames of one operation."""
        with self._write_lock:
            yield

    # -- socket timeouts (see the module docstring) -------------------------

    def wait_timeout(self, timeout: Optional[float]) -> None:
        """Before a wait for deliveries of up to ``timeout`` seconds."""
        self._set_timeout(timeout)

    def publish_timeout(self, remaining: float, bound: float) -> None:
        """Bound each read and write of a publish by its ``remaining`` seconds.

        :param bound: the publish's whole timeout. While more than 90 % of it
            remains the socket keeps ``bound`` itself, so steady publishing
            never changes the socket's timeout (no system call).
        """
        self._set_timeout(bound if remaining > 0.9 * bound else max(remaining, 0.001))

    def _set_timeout(self, timeout: Optional[float]) -> None:
        channel = self._channel
        if channel is not None:
            self.engine.set_socket_timeout(channel.connection, timeout)

    # -- the retry path ------------------------------------------------------

    def ensure(self, method: Callable[[amqp.Channel], Any], retry: Optional[int] = None,
               what: str = 'operation', writes: bool = True,
               deadline: Optional[float] = None, background: bool = False) -> Any:
        """Run ``method(channel)``, reconnecting and retrying on broker faults.

        :param retry: retries allowed after the first failure; None or a
            negative value retries forever, 0 never.
        :param writes: False for a pure wait on deliveries, or for a
            method that takes the write lock itself (``writing``) only
            while it writes; either leaves the lock to threads that ack or
            send heartbeats, and sets its own socket timeout.
        :param deadline: a ``time.monotonic()`` instant after which no
            retry starts (a call's publish must not outlive its timeout);
            it also bounds each connect and each synchronous method.
        :param background: for a consumer's loop, which must see a stop
            while the broker is down: a failure, even one the broker
            refuses (credentials, vhost, permissions, TLS: an operator may
            be fixing it), is logged with its backoff, and the call returns
            None instead of waiting; ``retry_at`` says when to try again,
            and the following retry waits longer.
        :raises BrokerRefusal: at once (unless ``background``) when the
            broker refuses our credentials, vhost, permissions or
            certificate, or a declaration (406, 403, or 541 for a
            deprecated feature it denies).
        :raises MessageDeliveryFailure: when the retries are used up.
        :raises PublishTimeout: when ``deadline`` passes between retries.
        """
        with self._turn():
            return self._ensure(method, retry, what, writes, deadline, background)

    def _ensure(self, method: Callable[[amqp.Channel], Any], retry: Optional[int],
                what: str, writes: bool, deadline: Optional[float], background: bool) -> Any:
        attempt = self._failed_attempts if background else 0
        while True:
            with self._read_lock, (self._write_lock if writes else _NOTHING):
                if self._closing.is_set():
                    raise exceptions.MessageDeliveryFailure(
                        'Connection %s is closed; cannot run %s' % (self.name, what))
                reconnecting = self.generation > 0  # else a first connect
                try:
                    unconfirming = self._unconfirming
                    if (unconfirming and self.usable
                            and unconfirming.reported_since(self.host, self._connected_at)):
                        self._leave_unconfirming_host(reported_here=False)
                    if not self.usable:
                        with self._write_lock:
                            self._reset()
                            self._connect(deadline)
                    if writes:
                        # A synchronous method waits for its answer until
                        # the deadline, or without a timeout.
                        self._set_timeout(backoff.time_left(deadline))
                    result = method(self._channel)
                    if attempt:
                        self._log.recovered(what, attempt, reconnecting, self.host,
                                            self._kombu.transport_cls, self._channel)
                    if background:
                        self._failed_attempts, self._retry_at = 0, None
                    return result
                except DeclareAgain:
                    # The broker closed the channel over a declaration the
                    # declarer makes otherwise now: declare all again on a
                    # fresh one. Each change is one-way per entity (or
                    # needs the broker's queue to change), so this cannot loop.
                    with self._write_lock:
                        self._reset()
                    continue
                except PublishTimeout:
                    # A confirm may still come for the message: a fresh
                    # channel keeps it from being taken for the next one's.
                    # One that never came from a broker that did not block
                    # us: the links sharing ``unconfirming`` leave that host.
                    confirms = self.confirms
                    if (confirms.timed_out and confirms.blocked_reason is None
                            and self._host_count > 1):
                        self._unconfirming.report(self.host)
                        self._leave_unconfirming_host(reported_here=True)
                    else:
                        with self._write_lock:
                            self._reset()
                    raise
                except RETRIED_OR_REFUSED as ex:
                    attempt += 1
                    with self._write_lock:
                        self._reset()
                    error = refusal(ex, what, self.host, self.vhost)
                    if error is not None and not background:
                        self._log.refused(error)
                        raise error from getattr(ex, 'cause', ex)
                    if error is not None:
                        # A server's consumers: an operator may be fixing it.
                        delay = backoff.reconnect_delay(self._conf, attempt)
                        self._log.refused(error, delay, attempt)
                    else:
                        delay = self._retry_delay(ex, what, attempt, reconnecting, retry,
                                                  deadline)
            if background:
                self._failed_attempts = attempt
                self._retry_at = time.monotonic() + delay
                return None
            # Wait without the locks so acks and heartbeats of other threads
            # are not held up by our backoff; close() cuts the wait short.
            if delay:
                self._closing.wait(delay)

    def _leave_unconfirming_host(self, reported_here: bool) -> None:
        """Drop the connection to a host that took a publish of this
        driver and never confirmed it (unconfirming_hosts.py); the next try
        connects to the next host of the URL.

        :param reported_here: this link's publish went unconfirmed (else
            another link's did).
        """
        left = self.host
        with self._write_lock:
            self._reset()
        self._kombu.maybe_switch_next()
        if reported_here:
            LOG.warning('Broker %s took a publish on %s and neither confirmed it in time nor '
                        'blocked publishing: it may be a node cut off from the rest of its '
                        'cluster. This process\'s connections to it move to the other hosts '
                        'of the transport URL, this one to %s; check the cluster\'s state '
                        '("rabbitmqctl cluster_status") and the network between its nodes',
                        left, self.name, self.host)
        else:
            LOG.info('Connection %s leaves broker %s, which did not confirm a publish of '
                     'this process in time, for %s', self.name, left, self.host)

    def _retry_delay(self, ex: BaseException, what: str, attempt: int, reconnecting: bool,
                     retry: Optional[int], deadline: Optional[float]) -> float:
        """How long to wait before the next try after ``ex`` (a fault worth a
        reconnect), having switched to the next broker; logged.

        :raises MessageDeliveryFailure: the ``retry`` allowed are used up.
        :raises PublishTimeout: the next try could not start before ``deadline``.
        """
        if not (isinstance(ex, RECOVERABLE) or not_ready_yet(ex)):
            raise ex
        if retry is not None and 0 <= retry < attempt:
            raise exceptions.MessageDeliveryFailure(
                'Unable to perform %s on %s, vhost %s, after %d attempt(s); the last failed '
                'with %s: %s' % (what, self.host, self.vhost, attempt, type(ex).__name__,
                                 ex)) from ex
        failed_host = self.host
        self._kombu.maybe_switch_next()
        delay = (backoff.reconnect_delay(self._conf, attempt) if reconnecting
                 else backoff.first_connect_delay(self._conf, attempt))
        if deadline is not None:
            # The last try starts just before the deadline.
            delay = min(delay, deadline - time.monotonic() - backoff.LAST_TRY)
            if delay < 0:
                raise out_of_time(what, self.host, self.vhost, attempt, ex) from ex
        self._log.retrying(ex, what, attempt, reconnecting, failed_host, self.host, delay)
        return delay

    # -- reading -------------------------------------------------------------

    def read_frames(self) -> None:
        """Read one frame, waiting with the socket's timeout as last set
        (``publish_timeout``); under ``ensure``. One frame, not
        ``drain_events``, which reads on through heartbeats until a method
        arrives and so never comes back to its caller's deadline."""
        self._channel.connection.blocking_read(None)

    @contextlib.contextmanager
    def reading_if_free(self) -> Iterator[Optional[amqp.Channel]]:
        """Hold the read lock if no other thread does (it reads, then);
        yields the usable channel, or None (busy, or no channel)."""
        channel = self._channel if self.usable else None
        if channel is None or not self._read_lock.acquire(blocking=False):
            yield None
            return
        try:
            yield channel if self._channel is channel else None
        finally:
            self._read_lock.release()
