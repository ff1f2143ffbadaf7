"""The driver contract implemented over AMQP 0-9-1 connections.

``AMQPDriverBase`` turns sends, listens and notifications into the wire
format of WIRE.md on top of a pool of send connections, one reply waiter
and a hub of listening connections that all listeners share (see
consumer_hub.py). A subclass says how to make a connection
(``_make_connection``) from its URL and options.
"""
from __future__ import annotations

import os
import threading
import time
from typing import Any, Optional, Union

from messaging import exceptions
from messaging import wire
from messaging.drivers import base
from messaging.drivers.rabbit.pool import ConnectionContext, ConnectionPool
from messaging.drivers.rabbit.queue_retirement import RetiredQueue
from messaging.drivers.rabbit.connection import Connection
from messaging.drivers.rabbit.consumer_hub import ConsumerHub
from messaging.drivers.rabbit.declarations import Declarations
from messaging.drivers.rabbit.listener import RabbitListener
from messaging.drivers.rabbit.notification_listener import NotificationListener
from messaging.drivers.rabbit.rpc_listener import RpcListener
from messaging.drivers.rabbit.reply_sender import ReplySender
from messaging.drivers.rabbit.reply_waiter import ReplyWaiter
from messaging.drivers.rabbit.shared_connection import SharedConnection
from messaging.drivers.rabbit import timeout_diagnosis
from messaging.drivers.rabbit.unread_notifications import UnreadNotifications
from messaging.drivers.rabbit.unroutable import Republisher
from messaging import log_names

LOG = log_names.get_logger(__name__)


class AMQPDriverBase(base.BaseDriver):
    """Sends and listens through AMQP connections made by ``_make_connection``.

    :param options: the driver's view of its option group (see
        ``RabbitDriver``); read for pool sizes, declarations and replies.
    :param queue_manager: names reply and fanout queues (use_queue_manager).
    """

    def __init__(self, conf, url, options: Any, default_exchange: Optional[str] = None,
                 allowed_remote_exmods: Optional[list[str]] = None,
                 queue_manager: Any = None) -> None:
        super().__init__(conf, url, default_exchange, allowed_remote_exmods)
        self.options = options
        self.prefetch_size = options.rabbit_qos_prefetch_count
        self._declarations = Declarations(options, queue_manager)
        self._reply_sender = ReplySender(
            self._borrow, options.direct_mandatory_flag,
            options.kombu_missing_consumer_retry_timeout)
        self._unread = UnreadNotifications()
        self._republisher = Republisher(options.publish_timeout)
        self._listeners: set[RabbitListener] = set()
        self._listeners_lock = threading.Lock()
        self._start_afresh()

    def _start_afresh(self) -> None:
        """A new send pool and reply waiter, owned by the current process."""
        self._pid = os.getpid()
        self._pool: ConnectionPool[Connection] = ConnectionPool(
            lambda: self._make_connection(listening=False),
            max_size=self.options.rpc_conn_pool_size,
            min_size=self.options.conn_pool_min_size, ttl=self.options.conn_pool_ttl)
        self._hub = ConsumerHub(lambda: self._make_connection(listening=True))
        self._reply_waiter = ReplyWaiter(
            lambda: self._make_connection(listening=True, io_thread=False),
            self._declarations.new_reply_queue,
            self._allowed_remote_exmods)

    def _check_fork(self) -> None:
        """Give a forked child its own connections and reply queue.

        The sockets and reply queue inherited from the parent belong to the
        parent: they are dropped here, not closed, so the parent keeps them.
        """
        if self._pid != os.getpid():
            LOG.warning('Process %d is using a transport created by process %d before '
                        'it forked; opening new connections and a new reply queue',
                        os.getpid(), self._pid)
            with self._listeners_lock:
                self._listeners = set()
            self._start_afresh()

    def _make_connection(self, listening: bool, io_thread: bool = True
                         ) -> Union[Connection, SharedConnection]:
        """A new, not yet connected, connection to the transport's brokers:
        a send ``Connection``, or a listening ``SharedConnection``.

        :param io_thread: a listening connection read by an I/O thread of
            its own (the hub's); else by its owner (the reply queue's).
        """
        raise NotImplementedError

    def _borrow(self, timeout: Optional[float] = None) -> ConnectionContext:
        try:
            return ConnectionContext(self._pool, timeout)
        except TimeoutError as ex:
            raise exceptions.MessagingTimeout(
                'all %d pooled connections stayed in use for %s s (rpc_conn_pool_size)'
                % (self._pool.max_size, timeout)) from ex

    @property
    def reply_queue_name(self) -> str:
        """This transport's reply queue (declared on the first call)."""
        return self._reply_waiter.queue_name

    def _exchange_name(self, exchange: Optional[str]) -> str:
        """``exchange``, or by default the control exchange."""
        return exchange or self._default_exchange or 'openstack'

    # -- RPC -----------------------------------------------------------------

    def send(self, target, ctxt: dict, message: dict, wait_for_reply: Optional[bool] = None,
             timeout: Optional[float] = None, call_monitor_timeout: Optional[float] = None,
             retry: Optional[int] = None, transport_options=None) -> Any:
        self._check_fork()
        if not wait_for_reply:
            self._publish_request(target, ctxt, message, None, None, None, retry,
                                  transport_options)
            return None
        if target.fanout:
            raise exceptions.InvalidTarget('A call cannot be sent to a fanout target',
                                           target)
        # The timeout covers the whole call: declaring the reply queue, a
        # publish held up by a broker alarm or a reconnect leave only the
        # rest of it for the reply.
        started = time.monotonic()
        msg_id, reply_q = self._register_call(None if timeout is None else started + timeout)
        declared = self._reply_waiter.declared_again
        try:
            routing = self._publish_request(target, ctxt, message, msg_id,
                                            call_monitor_timeout, timeout, retry,
                                            transport_options, started, reply_q)
            description = 'method %r on topic %s (exchange %s)' % (
                (message.get('method'),) + routing)
            try:
                return self._reply_waiter.wait(msg_id, timeout, call_monitor_timeout,
                                               description, started)
            except exceptions.MessagingTimeout as ex:
                why = timeout_diagnosis.explain(
                    self._borrow, routing[0], self._reply_waiter.queue_name,
                    reply_queue_redeclared=self._reply_waiter.declared_again != declared)
                if not why:
                    raise
                raise exceptions.MessagingTimeout('%s; %s' % (ex, why)) from None
        finally:
            self._reply_waiter.unregister(msg_id)

    def fanout_call(self, target, ctxt: dict, message: dict,
                    timeout: float) -> list[tuple[float, Any]]:
        self._check_fork()
        started = time.monotonic()
        msg_id, reply_q = self._register_call(started + timeout)
        try:
            self._publish_request(target(fanout=True), ctxt, message, msg_id, None,
                                  timeout, None, None, started, reply_q)
            return self._reply_waiter.collect(msg_id, timeout, started)
        finally:
            self._reply_waiter.unregister(msg_id)

    def _register_call(self, deadline: Optional[float]) -> tuple[str, str]:
        """A new msg_id whose replies the reply waiter will keep, and the
        reply queue its request names.

        Registered before publishing: a reply may beat publish() back.

        :param deadline: the call's end (``time.monotonic()``), by which
            the reply queue must be there; None waits for it.
        """
        self._reply_waiter.start(deadline)
        msg_id = wire.random_id()
        return msg_id, self._reply_waiter.register(msg_id)

    def _publish_request(self, target, ctxt: dict, message: dict, msg_id: Optional[str],
                         call_monitor_timeout: Optional[float], timeout: Optional[float],
                         retry: Optional[int], transport_options,
                         started: Optional[float] = None,
                         reply_q: Optional[str] = None) -> tuple[str, str]:
        """Publish an RPC request (a call when ``msg_id`` is set).

        One to a topic is published mandatory, and again while the broker
        returns it for want of a queue (unroutable.py); a fanout is not.

        :param started: when the call began (``time.monotonic()``): its
            ``timeout`` counts from there.
        :param reply_q: a call's reply queue (``ReplyWaiter.register``).

        :returns: ``(routing key, exchange name)``, for messages about it.
        """
        msg = dict(message)
        if msg_id is not None:
            msg['_msg_id'] = msg_id
            msg['_reply_q'] = reply_q
            msg['_timeout'] = call_monitor_timeout
        msg['_unique_id'] = wire.unique_id()
        wire.pack_context(msg, ctxt)
        body = wire.serialize_msg(msg)
        if target.fanout:
            exchange = self._declarations.fanout_exchange(target.topic)
            routing_key = ''
        else:
            exchange = self._declarations.topic_exchange(self._exchange_name(target.exchange))
            routing_key = ('%s.%s' % (target.topic, target.server) if target.server
                           else target.topic)
        at_least_once = bool(getattr(transport_options, 'at_least_once', False))
        # What is left of a call's timeout bounds the wait for a free pooled
        # connection and each publish; the message's TTL is the whole
        # timeout, as oslo.messaging sets it.
        deadline = (None if msg_id is None or timeout is None
                    else (started or time.monotonic()) + timeout)

        expiration = None if deadline is None else timeout

        def publish(mandatory: bool) -> None:
            wait = None if deadline is None else max(deadline - time.monotonic(), 0.001)
            with self._borrow(wait) as connection:
                connection.publish(exchange, routing_key, body, mandatory=mandatory,
                                   expiration=expiration, retry=retry, deadline=deadline)

        if target.fanout or at_least_once:
            # at_least_once: a returned request raises MessageUndeliverable.
            publish(at_least_once)
        elif msg_id is None:
            self._republisher.cast(lambda: publish(True), exchange.name, routing_key)
        else:
            self._republisher.call(lambda: publish(True), exchange.name, routing_key,
                                   deadline)
        return routing_key, exchange.name

    def listen(self, target, batch_size: int, batch_timeout: Optional[float]
               ) -> RpcListener:
        self._check_fork()
        listener = RpcListener(self._hub.attach(), self._reply_sender,
                               **self._listener_kwargs(batch_size, batch_timeout))
        exchange = self._exchange_name(target.exchange)
        server_key = '%s.%s' % (target.topic, target.server)
        fanout = self._declarations.new_fanout_queue(target.topic)
        try:
            for key in (target.topic, server_key):
                listener.consume(self._declarations.topic_queue(key, [(exchange, key)]))
            listener.consume_fanout(fanout, self._declarations.fanout_queues_are_private,
                                    lambda: self._declarations.new_fanout_queue(target.topic))
        except BaseException:
            self._abandon(listener)
            raise
        self._track(listener)
        LOG.info('Listening on %s, %s and %s (exchange %s)', target.topic, server_key,
                 fanout.name, exchange)
        return listener

    # -- notifications -------------------------------------------------------

    def send_notification(self, target, ctxt: dict, message: dict, version: float,
                          retry: Optional[int] = None) -> None:
        self._check_fork()
        msg = dict(message)
        msg['_unique_id'] = wire.unique_id()
        wire.pack_context(msg, ctxt)
        body = wire.serialize_msg(msg) if version >= 2.0 else msg
        exchange_name = self._exchange_name(target.exchange)
        queue = self._declarations.topic_queue(target.topic, [(exchange_name, target.topic)])
        with self._borrow() as connection:
            connection.publish(self._declarations.topic_exchange(exchange_name),
                               target.topic, body, retry=retry, declare=queue)
            if self._unread.due(queue.name):
                self._unread.look(connection, queue.name)

    def listen_for_notification(self, targets_and_priorities, pool: Optional[str],
                                batch_size: int, batch_timeout: Optional[float]
                                ) -> NotificationListener:
        self._check_fork()
        listener = NotificationListener(
            self._hub.attach(), quorum_delivery_limit=self.options.rabbit_quorum_delivery_limit,
            **self._listener_kwargs(batch_size, batch_timeout))
        bindings = [(self._exchange_name(target.exchange), '%s.%s' % (target.topic, priority))
                    for target, priority in targets_and_priorities]
        if pool:
            queues = [self._declarations.topic_queue(pool, bindings)]
        else:
            queues = [self._declarations.topic_queue(key, [(exchange, key)])
                      for exchange, key in bindings]
        try:
            for spec in queues:
                listener.consume(spec)
        except BaseException:
            self._abandon(listener)
            raise
        self._track(listener)
        return listener

    # -- lifecycle -----------------------------------------------------------

    def connect(self, timeout: float) -> None:
        """Connect now rather than on first use: the reply queue and one
        pooled send connection, within ``timeout`` seconds.

        For tools that check the broker before they start, or that time a
        round trip without the connection set-up.

        :raises MessagingTimeout: the broker was not reached in time.
        :raises BrokerRefusal: the broker refused us (credentials, vhost,
            permissions, TLS).
        """
        self._check_fork()
        deadline = time.monotonic() + timeout
        self._reply_waiter.start(deadline)
        with self._borrow(max(deadline - time.monotonic(), 0.001)) as connection:
            connection.ensure(lambda channel: None, what='connect', deadline=deadline)

    def delete_queue(self, name: str) -> None:
        """Delete queue ``name`` (e.g. a private pool queue no one will reuse)."""
        with self._borrow() as connection:
            connection.delete_queue(name)

    def retire_queue(self, name: str, exchange: Optional[str], timeout: float
                     ) -> RetiredQueue:
        """Unbind topic queue ``name`` from ``exchange`` (default: the
        control exchange), let its servers empty it, delete it, and wait
        for them to declare it again (``queue_retirement.retire_queue``)."""
        with self._borrow() as connection:
            return connection.retire_queue(name, self._exchange_name(exchange),
                                           name, timeout)

    def _listener_kwargs(self, batch_size: int, batch_timeout: Optional[float]) -> dict:
        return dict(batch_size=batch_size, batch_timeout=batch_timeout,
                    prefetch_size=self.prefetch_size, on_cleanup=self._untrack)

    def _track(self, listener: RabbitListener) -> None:
        with self._listeners_lock:
            self._listeners.add(listener)

    def _untrack(self, listener: RabbitListener) -> None:
        """A listener was cleaned up: forget it, and free its place on the hub."""
        with self._listeners_lock:
            if listener not in self._listeners:
                return
            self._listeners.discard(listener)
        self._hub.detach(listener.connection)

    def _abandon(self, listener: RabbitListener) -> None:
        """A listener that failed to start: cancel the consumers it has
        (the other listeners' stay) and free its place on the hub."""
        listener.stop()
        try:
            listener.release()
        except Exception as ex:  # the reason it failed may fail this too
            LOG.debug('Could not cancel the consumers of a listener that failed to '
                      'start: %s', ex)
        self._hub.detach(listener.connection)

    def cleanup(self) -> None:
        """Stop the reply waiter, close listeners' and pooled connections."""
        self._reply_waiter.stop()
        with self._listeners_lock:
            listeners, self._listeners = list(self._listeners), set()
        for listener in listeners:
            listener.stop()
        self._hub.close()
        self._pool.close()

