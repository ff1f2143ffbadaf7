"""A kombu-backed AMQP connection with one channel, and ``ensure``: the one
retry path every broker operation of the driver goes through.

A ``Connection`` is either a *send* connection (publisher confirms on, taken
from the pool by one user at a time) or a *listen* connection (consumers,
kept by consuming.ConsumingMixin: the reply waiter's, drained by its
thread, or a SharedConnection of many listeners, read by its I/O thread,
io_loop.py). Two locks keep frames whole: ``_read_lock`` is held
by whoever reads from the socket (and for every synchronous round trip),
``_write_lock`` by whoever writes a frame, so that another thread can ack a
message or send a heartbeat while the listening thread waits for the next
delivery.
"""
from __future__ import annotations

import contextlib
import itertools
import os
import socket
import threading
import time
import uuid
from typing import Any, Callable, Optional

import amqp

from messaging import exceptions
from messaging.drivers.rabbit import backoff, codec, frames
from messaging.drivers.rabbit.amqp_link import (KombuConnection, set_publish_timeout,
                                                set_socket_timeout)
from messaging.drivers.rabbit.confirms import PublishConfirms
from messaging.drivers.rabbit.consuming import ConsumingMixin
from messaging.drivers.rabbit.declarations import ChannelDeclarer, ExchangeSpec, QueueSpec
from messaging.drivers.rabbit.heartbeat import Heartbeat
from messaging.drivers.rabbit.errors import (RECOVERABLE, RETRIED_OR_REFUSED, DeclareAgain,
                                             PublishTimeout, not_ready_yet, out_of_time,
                                             refusal)
from messaging.drivers.rabbit.options import PROCESS_NAME
from messaging import log_names

LOG = log_names.get_logger(__name__)

# Seconds after a reconnect at which the queues declared again are checked
# (see Connection._check_redeclared_queues).
RECHECKS_AFTER_RECONNECT = (1.0, 3.0, 10.0)


_NO_LOCK = contextlib.nullcontext()


def connection_name() -> str:
    """``<program>:<pid>:<uuid4>``, how RabbitMQ shows our connections."""
    return '%s:%d:%s' % (PROCESS_NAME, os.getpid(), uuid.uuid4())


class Connection(ConsumingMixin):
    """One AMQP connection and its channel, reconnected on demand.

    :param conf: the driver's view of ``[oslo_messaging_rabbit]``.
    :param broker_urls: kombu URLs, one per host, tried in failover order.
    :param confirm: publisher confirms (send connections).
    """

    def __init__(self, conf: Any, broker_urls: list[str], ssl: Any = False,
                 confirm: bool = True, codec_: Optional[codec.Codec] = None) -> None:
        self._conf = conf
        self.name = connection_name()
        # The id oslo.messaging's log lines show in brackets: the name's uuid.
        self.connection_id = self.name.rsplit(':', 1)[-1]
        self._confirms = PublishConfirms(lambda: self.host, self.name)
        self.codec = codec_ or codec.Codec(conf.kombu_compression, conf.max_message_size)
        self._kombu = KombuConnection(
            broker_urls, ssl=ssl, login_method=conf.rabbit_login_method,
            heartbeat=conf.heartbeat_timeout_threshold,
            failover_strategy=conf.kombu_failover_strategy,
            # Confirms are awaited here, not by py-amqp, whose wait has no
            # overall deadline (each frame received restarts its timeout).
            transport_options={'confirm_publish': False,
                               'on_blocked': self._confirms.on_blocked,
                               'on_unblocked': self._confirms.on_unblocked,
                               'client_properties': {'connection_name': self.name}})
        self._confirm = confirm
        self._read_lock = threading.RLock()
        self._write_lock = threading.RLock()
        self._channel: Optional[amqp.Channel] = None
        self._declarer = ChannelDeclarer(lambda: self.host)
        # By consumer tag: (spec, callback, cursor). Tags come from a
        # counter that outlives reconnects: never reused on this connection.
        self._consumers: dict[str, tuple[QueueSpec, Callable, Any]] = {}
        self._tags = itertools.count(1)
        self._rechecks: tuple[float, ...] = ()
        # The backoff of drain(): failed reconnects in a row, and when the
        # next may start (see ensure's ``background``).
        self._failed_attempts = 0
        self._retry_at: Optional[float] = None
        self._returned: Optional[tuple] = None
        self._closed = False
        self._broken = False
        #: How many times the connection was (re)established: a change tells
        #: a caller that it was lost meanwhile (and its queues declared again).
        self.generation = 0
        self._closing = threading.Event()
        self._heartbeat = Heartbeat(self.name, lambda: self._channel, lambda: self._broken,
                                    self._heartbeat_failed, self._read_lock,
                                    self._write_lock, self._closing)

    # -- lifecycle -----------------------------------------------------------

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

    def _connect(self, deadline: Optional[float] = None) -> None:
        # Each step of the TCP and AMQP handshakes waits at most this long.
        self._kombu.connect_timeout = backoff.connect_timeout(deadline)
        self._kombu.ensure_connection(max_retries=0, reraise_as_library_errors=False)
        channel = self._kombu.channel()
        channel.events['basic_return'].add(self._on_return)
        self._confirms.new_channel(channel if self._confirm else None)
        if not self._confirm and self._conf.rabbit_qos_prefetch_count > 0:
            channel.basic_qos(0, self._conf.rabbit_qos_prefetch_count, False)
        self._channel = channel
        self._declarer.forget()
        self._broken = False
        self.generation += 1
        self._replay_consumers()
        if self._consumers:
            now = time.monotonic()
            self._rechecks = tuple(now + delay for delay in RECHECKS_AFTER_RECONNECT)
        self._start_heartbeat()
        LOG.debug('Connected %s to %s', self.name, self.host)

    def _start_heartbeat(self) -> None:
        """Start the heartbeat thread (once)."""
        self._heartbeat.start(self._conf.heartbeat_timeout_threshold,
                              self._conf.heartbeat_rate)

    def _reset(self) -> None:
        """Drop the channel and socket; the next operation reconnects."""
        self._channel = None
        self._declarer.forget()
        try:
            self._kombu.collect()
        except Exception:  # a dead socket may fail to close: nothing to save
            LOG.debug('Ignoring error while releasing connection %s', self.name,
                      exc_info=True)

    def close(self) -> None:
        """Close the connection and stop its heartbeat thread."""
        self._closed = True
        self._closing.set()
        with self._read_lock, self._write_lock:
            self._channel = None
            try:
                self._kombu.release()
            except Exception:
                LOG.debug('Ignoring error while closing %s', self.name, exc_info=True)
        self._heartbeat.join(timeout=5)

    # -- the retry path ------------------------------------------------------

    def ensure(self, method: Callable[[amqp.Channel], Any], retry: Optional[int] = None,
               what: str = 'operation', writes: bool = True,
               deadline: Optional[float] = None, background: bool = False) -> Any:
        """Run ``method(channel)``, reconnecting and retrying on broker faults.

        :param retry: retries allowed after the first failure; None or a
            negative value retries forever, 0 never.
        :param writes: False for a pure wait on deliveries, or for a
            method that takes the write lock itself only while it writes;
            either leaves the lock to threads that ack or send heartbeats.
        :param deadline: a ``time.monotonic()`` instant after which no
            retry starts (a call's publish must not outlive its timeout);
            it also bounds each connect and each synchronous method.
        :param background: for a consumer's loop (``drain``), which must
            see a stop while the broker is down: a failure, even one the
            broker refuses (credentials, vhost, permissions, TLS: an
            operator may be fixing it), is logged with its backoff, and
            the call returns None instead of waiting; the next drain waits
            out the backoff, and the following retry waits longer.
        :raises BrokerRefusal: at once (unless ``background``) when the
            broker refuses our credentials, vhost, permissions or
            certificate, or a declaration (406, 403, or 541 for a
            deprecated feature it denies).
        :raises MessageDeliveryFailure: when the retries are used up.
        :raises PublishTimeout: when ``deadline`` passes between retries.
        """
        attempt = self._failed_attempts if background else 0
        while True:
            with self._read_lock, (self._write_lock if writes else _NO_LOCK):
                if self._closed:
                    raise exceptions.MessageDeliveryFailure(
                        'Connection %s is closed; cannot run %s' % (self.name, what))
                # A first connect retries and logs as oslo.messaging's
                # ensure_connection, a reconnect as its ensure.
                reconnecting = self.generation > 0
                try:
                    if self._channel is None or self._broken:
                        with self._write_lock:
                            self._reset()
                            self._connect(deadline)
                    if writes:
                        # Synchronous methods (declare, delete, publish and
                        # its confirm) wait for their reply until the
                        # deadline, or without a timeout.
                        set_socket_timeout(self._channel.connection,
                                           backoff.time_left(deadline))
                    result = method(self._channel)
                    if attempt:
                        self._log_recovered(what, attempt, reconnecting)
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
                    with self._write_lock:
                        self._reset()
                    raise
                except RETRIED_OR_REFUSED as ex:
                    attempt += 1
                    with self._write_lock:
                        self._reset()
                    error = refusal(ex, what, self.host, self.vhost)
                    if error is not None and not background:
                        LOG.error('%s', error)
                        raise error from getattr(ex, 'cause', ex)
                    if error is not None:
                        # A server's consumers: an operator may be fixing it.
                        delay = backoff.reconnect_delay(self._conf, attempt)
                        LOG.error('%s; %s tries again in %.1f s (attempt %d)', error,
                                  self.name, delay, attempt)
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
        self._log_retry(ex, failed_host, delay, what, attempt, reconnecting)
        return delay

    # -- the retry path's log lines: oslo.messaging's texts ------------------

    def _context(self, what: str, attempt: int) -> dict:
        """What our log lines add, as record attributes (``extra``)."""
        return {'operation': what, 'attempt': attempt, 'connection_name': self.name,
                'broker': self.host}

    def _log_retry(self, ex: Exception, host: str, delay: float, what: str, attempt: int,
                   reconnecting: bool) -> None:
        extra = dict(self._context(what, attempt), broker=host, next_broker=self.host,
                     error_type=type(ex).__name__)
        if not reconnecting:
            LOG.error('Connection failed: %s (retrying in %s seconds)', str(ex), delay,
                      extra=extra)
            return
        hostname, _, port = host.rpartition(':')
        info = {'connection_id': self.connection_id, 'hostname': hostname, 'port': port,
                'err_str': ex, 'sleep_time': delay}
        if 'Socket closed' in str(ex):
            LOG.error('[%(connection_id)s] AMQP server %(hostname)s:%(port)s closed the '
                      'connection. Check login credentials: %(err_str)s', info, extra=extra)
        else:
            LOG.error('[%(connection_id)s] AMQP server on %(hostname)s:%(port)s is '
                      'unreachable: %(err_str)s. Trying again in %(sleep_time)d seconds.',
                      info, extra=extra)

    def _log_recovered(self, what: str, attempt: int, reconnecting: bool) -> None:
        extra = self._context(what, attempt)
        if not reconnecting:
            # oslo.messaging says nothing when a first connect succeeds.
            LOG.debug('Connected %s to %s after %d failed attempt(s)', self.name,
                      self.host, attempt, extra=extra)
            return
        hostname, _, port = self.host.rpartition(':')
        try:
            client_port = self._channel.connection.sock.getsockname()[1]
        except (AttributeError, OSError):
            client_port = None
        LOG.info('[%(connection_id)s] Reconnected to AMQP server on %(hostname)s:%(port)s '
                 'via [%(transport)s] client with port %(client_port)s.',
                 {'connection_id': self.connection_id, 'hostname': hostname, 'port': port,
                  'transport': self._kombu.transport_cls, 'client_port': client_port},
                 extra=extra)

    # -- publishing ----------------------------------------------------------

    def _on_return(self, exc: Exception, exchange: str, routing_key: str,
                   message: Any) -> None:
        self._returned = (exc, exchange, routing_key, message)

    def publish(self, exchange: Optional[ExchangeSpec], routing_key: str, body: dict,
                expiration: Optional[float] = None, mandatory: bool = False,
                retry: Optional[int] = None, declare: Optional[QueueSpec] = None,
                deadline: Optional[float] = None) -> None:
        """Publish ``body`` (a JSON-able dict) with the WIRE.md properties.

        On a send connection, returns once the broker confirmed the message.
        The wait (declarations, writes, confirm) is bounded by ``expiration``
        for a call and by the ``publish_timeout`` option otherwise, so that
        a broker blocking publishers (memory or disk alarm) cannot hang us.

        :param exchange: declared once per channel; None = default exchange.
        :param expiration: seconds, only for call requests (its timeout).
        :param declare: a queue to declare (once per channel) first.
        :param deadline: ``time.monotonic()`` instant a call's publish must
            end by (default: ``expiration`` seconds from now).
        :raises MessageUndeliverable: a mandatory message had no route.
        :raises PublishTimeout: the broker did not confirm it in time.
        """
        data, headers = self.codec.encode(body)
        # Encoded once, not again on each retry.
        properties = frames.encode_properties({
            'content_type': codec.CONTENT_TYPE, 'content_encoding': codec.CONTENT_ENCODING,
            'application_headers': headers, 'delivery_mode': 2, 'priority': 0,
            'expiration': None if expiration is None else str(int(expiration * 1000))})
        exchange_name = exchange.name if exchange is not None else ''
        what = 'publish to %s/%s' % (exchange_name or '<default>', routing_key)
        bound = expiration if expiration is not None else self._conf.publish_timeout
        if deadline is None:
            deadline = time.monotonic() + bound

        def _publish(channel: amqp.Channel) -> None:
            link = channel.connection
            try:
                with self._write_lock:
                    # A blocked broker reads nothing, not even declarations.
                    set_publish_timeout(link, deadline - time.monotonic(), bound)
                    if exchange is not None:
                        self._declarer.exchange(channel, exchange)
                    if declare is not None:
                        self._declarer.queue(channel, declare, once=True)
                    self._returned = None
                    if self._confirm:
                        self._confirms.expect()
                    frames.publish(channel, exchange_name, routing_key, data, properties,
                                   mandatory)
                # Without the write lock: heartbeats go on while we wait.
                if self._confirm:
                    self._confirms.wait(link, deadline, bound)
            except socket.timeout as ex:
                raise self._confirms.timeout(what, bound) from ex
            except amqp.exceptions.RecoverableConnectionError as ex:
                # py-amqp's word for a write that timed out: a broker not
                # reading (blocked) would fail every retry the same way.
                if 'timed out' not in str(ex):
                    raise
                raise self._confirms.timeout(what, bound) from ex
            returned, self._returned = self._returned, None
            if returned is not None:
                raise exceptions.MessageUndeliverable(*returned)

        try:
            self.ensure(_publish, retry, what, writes=False,
                        deadline=deadline if expiration is not None else None)
        except PublishTimeout as ex:
            LOG.error('%s', ex)
            raise

    # -- settling deliveries -----------------------------------------------

    def ack(self, channel: amqp.Channel, delivery_tag: int, requeue: Optional[bool] = None
            ) -> None:
        """Ack (``requeue`` None) or reject a delivery received on ``channel``.

        A delivery from an older channel is gone with it: the broker
        redelivers it, so there is nothing to do.
        """
        with self._write_lock:
            if channel is not self._channel:
                LOG.debug('Not settling delivery %s of a closed channel on %s',
                          delivery_tag, self.name)
                return
            try:
                if requeue is None:
                    frames.ack(channel, delivery_tag)
                else:
                    frames.reject(channel, delivery_tag, requeue)
            except RECOVERABLE as ex:
                LOG.warning('Could not settle delivery %s on %s: %s; the broker '
                            'will redeliver it', delivery_tag, self.name, ex)
                self._broken = True

    def _heartbeat_failed(self, ex: Exception) -> None:
        # oslo.messaging's text; this connection reconnects on its next use.
        LOG.info('A recoverable connection/channel error occurred, trying to reconnect: %s',
                 ex, extra={'connection_name': self.name, 'broker': self.host})
        self._broken = True
