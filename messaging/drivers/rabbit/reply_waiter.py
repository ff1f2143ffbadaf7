"""The reply queue of a transport and the one thread that reads it.

Every call of a driver shares one ``reply_<hex32>`` queue (WIRE.md §5): the
caller registers its ``_msg_id`` before publishing, whoever reads the queue
(a waiting caller, or the waiter's thread when none waits: reply_turns)
routes each reply to the registered caller's mailbox, and the caller applies
the timeouts and rebuilds the result.
"""
from __future__ import annotations

import queue
import threading
import time
from typing import Any, Callable, Iterable, Optional, Union

from messaging import exceptions
from messaging import wire
from messaging.drivers.rabbit.declarations import QueueSpec
from messaging.drivers.rabbit.errors import PublishTimeout
from messaging.drivers.rabbit.reply_turns import Mailbox, ReadingTurns
from messaging.drivers.rabbit.shared_connection import SharedConnection
from messaging import log_names

LOG = log_names.get_logger(__name__)

# How long one read of the reply connection lasts: bounds how late a stop
# is noticed.
DRAIN_SLICE = 0.25
# Seconds between two checks that the reply queue still exists (see
# ReplyWaiter._recheck_queue): a burst of timeouts costs one check.
RECHECK_INTERVAL = 5.0

# What the waiter puts in the mailbox of a call whose reply queue was
# replaced (_renew): no reply can come to it.
QUEUE_LOST: Any = object()


class ReplyWaiter:
    """Consumes the reply queue and hands replies to callers.

    Started lazily by :meth:`start` on the first call: the queue is declared
    and consumed before ``start`` returns, so the first request's reply
    cannot arrive before anyone listens.

    :param spec: the reply queue, or what makes it when first needed (a
        queue manager name is taken at the first call, as oslo takes it).
    """

    def __init__(self, connection_factory: Callable[[], SharedConnection],
                 spec: Union[QueueSpec, Callable[[], QueueSpec]],
                 allowed_remote_exmods: Iterable[str]) -> None:
        self._connection_factory = connection_factory
        self._make_spec = spec if callable(spec) else (lambda: spec)
        self._spec: Optional[QueueSpec] = None
        self._spec_lock = threading.Lock()
        self._allowed_remote_exmods = list(allowed_remote_exmods)
        self._waiters: dict[str, Mailbox] = {}
        self._turns = ReadingTurns(self._read_once, DRAIN_SLICE)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._connection: Optional[SharedConnection] = None
        self._thread: Optional[threading.Thread] = None
        self._next_recheck = 0.0
        self._recheck_wanted = threading.Event()
        self._recheck_lock = threading.Lock()
        # Replies read from the queue, in all; and as the last check saw it.
        self._replies_received = 0
        self._received_at_last_check = -1

    @property
    def declared_again(self) -> int:
        """How many times the reply queue was declared again (after a
        reconnect, or the broker cancelling its consumer:
        ``ConsumerSet.declared_again``): when it changes during a call, the
        reply queue may have been lost meanwhile."""
        connection = self._connection
        return connection.consumers.declared_again if connection is not None else 0

    @property
    def queue_name(self) -> str:
        """The name of the reply queue (``reply_<hex32>``)."""
        return self.spec.name

    @property
    def spec(self) -> QueueSpec:
        """The reply queue, made on first use."""
        if self._spec is None:
            with self._spec_lock:
                if self._spec is None:
                    self._spec = self._make_spec()
        return self._spec

    def _renew(self, old: QueueSpec) -> QueueSpec:
        """A reply queue of a new name, for the broker cannot serve ``old``
        (its node is down: ``ConsumerSet.declare``); calls sent from now on
        name it. Replies to calls sent before go to the old one, which
        cannot take them: those calls time out at once."""
        with self._spec_lock:
            self._spec = self._make_spec()
        for mailbox in list(self._waiters.values()):
            if mailbox.reply_queue == old.name:
                self._turns.deliver(mailbox, QUEUE_LOST)
        return self._spec

    def start(self, deadline: Optional[float] = None) -> None:
        """Declare and consume the reply queue and start the thread, once.

        :param deadline: ``time.monotonic()`` instant by which the first
            call must have its reply queue (its own timeout); None waits.
        :raises PublishTimeout: the queue could not be declared in time.
        :raises BrokerRefusal: at once, when the broker refuses us.
        """
        if self._thread is not None:
            return
        wait = -1 if deadline is None else max(deadline - time.monotonic(), 0)
        # Another first call may be declaring the queue: wait for it, but
        # no longer than this call's own timeout.
        if not self._lock.acquire(timeout=wait):
            raise PublishTimeout('the reply queue %s was still being declared by another '
                                 'call when this call\'s timeout ran out' % self.queue_name)
        try:
            if self._thread is not None:
                return
            if self._stopping.is_set():
                raise exceptions.MessageDeliveryFailure('the transport was cleaned up')
            connection = self._connection_factory()
            try:
                connection.declare_consumer(self.spec, self._on_message, deadline=deadline,
                                            renew=self._renew)
            except PublishTimeout as ex:
                connection.close()
                raise PublishTimeout('the call could not set up its reply queue in time: '
                                     '%s' % ex) from ex
            except BaseException:
                connection.close()
                raise
            self._connection = connection
            self._turns.let_callers_read()
            thread = threading.Thread(target=self._run, args=(connection,), daemon=True,
                                      name='rabbit-reply-waiter-%s' % self.queue_name)
            thread.start()
            self._thread = thread
            LOG.debug('Reply queue %s consumed on %s', self.queue_name, connection.name)
        finally:
            self._lock.release()

    def _run(self, connection: SharedConnection) -> None:
        self._turns.run_background(self._stopping)

    def _read_once(self, timeout: float, done: Optional[Callable[[], bool]]) -> None:
        """Read the reply queue for up to ``timeout`` seconds (until
        ``done()``, for a caller), on whichever thread has the turn; a
        failure is logged, and waited out a little so that a broken
        connection does not spin.

        :raises queue.Empty: the waiter is stopping (no reply will come).
        """
        if self._stopping.is_set():
            raise queue.Empty
        connection = self._connection
        try:
            if self._recheck_wanted.is_set():
                self._recheck_wanted.clear()
                self._check_queue(connection)
            connection.read(timeout, done)
        except Exception:
            if self._stopping.is_set():
                raise queue.Empty from None
            LOG.exception('Reading reply queue %s failed; retrying', self.queue_name)
            self._stopping.wait(min(1.0, timeout))

    def _on_message(self, raw: Any) -> None:
        # The caller is woken before the ack is written: the ack is a socket
        # write the caller need not wait for. Should the ack be lost, the
        # broker redelivers the reply and deliver() drops it, its msg_id
        # being no longer registered by then.
        self._replies_received += 1
        try:
            reply = self._connection.codec.decode(raw)
        except wire.MalformedMessage as ex:
            LOG.warning('Dropping malformed reply on %s: %s', self.queue_name, ex)
            reply = None
        if reply is not None:
            self.deliver(reply)
        self._connection.ack(raw.channel, raw.delivery_tag)

    def deliver(self, reply: dict) -> None:
        """Hand a decoded reply to the caller waiting for its ``_msg_id``."""
        msg_id = reply.get('_msg_id')
        # Only a string can be a msg_id we registered (and be hashed safely).
        mailbox = self._waiters.get(msg_id) if isinstance(msg_id, str) else None
        if mailbox is None:
            # oslo.messaging's words (a reply after its call gave up, or one
            # redelivered after a reconnect); a hostile msg_id is shortened.
            shown = (msg_id if isinstance(msg_id, str) and msg_id.isalnum()
                     and len(msg_id) <= 64 else wire.shorten(msg_id))
            LOG.info('No calling threads waiting for msg_id : %s', shown,
                     extra={'reply_queue': self.queue_name})
            return
        self._turns.deliver(mailbox, reply)

    def register(self, msg_id: str) -> str:
        """Expect replies for ``msg_id``; call before publishing the
        request, which names the reply queue returned."""
        reply_queue = self.queue_name
        self._waiters[msg_id] = self._turns.mailbox(reply_queue)
        return reply_queue

    def unregister(self, msg_id: str) -> None:
        """Forget ``msg_id``; later replies for it are dropped."""
        self._waiters.pop(msg_id, None)

    def wait(self, msg_id: str, timeout: Optional[float],
             call_monitor_timeout: Optional[float], description: str,
             started: Optional[float] = None) -> Any:
        """The result of call ``msg_id``, or raise its remote exception.

        :param timeout: overall deadline in seconds (None = none) counted
            from ``started`` (a ``time.monotonic()`` reading, default now),
            so that the time spent publishing the request counts too;
            replies that are heartbeats never extend it.
        :param call_monitor_timeout: fail when no reply at all arrives for
            this long; each reply (heartbeat or not) restarts this timer.
        :param description: what the call was, for the timeout message.
        :raises MessagingTimeout: on either time-out.
        """
        mailbox = self._waiters[msg_id]
        now = time.monotonic()
        deadline = None if timeout is None else (started or now) + timeout
        last_sign_of_life = now
        result: Any = None
        while True:
            now = time.monotonic()
            waits = []
            if deadline is not None:
                waits.append((deadline - now, 'after %g s' % round(timeout, 1)))
            if call_monitor_timeout:
                waits.append((last_sign_of_life + call_monitor_timeout - now,
                              'no heartbeat for %g s (call_monitor_timeout)'
                              % round(call_monitor_timeout, 1)))
            budget, why = min(waits) if waits else (None, '')
            try:
                reply = self._turns.next_reply(mailbox,
                                               None if budget is None else max(budget, 0))
            except queue.Empty:
                self._recheck_queue()
                raise exceptions.MessagingTimeout(
                    'Timed out waiting for a reply to %s, msg_id %s: %s'
                    % (description, msg_id, why)) from None
            if reply is QUEUE_LOST:
                raise exceptions.MessagingTimeout(
                    'Timed out waiting for a reply to %s, msg_id %s: its reply queue %s was '
                    'lost with its broker node, so no reply can come; calls from now on use '
                    'a new one' % (description, msg_id, mailbox.reply_queue))
            last_sign_of_life = time.monotonic()
            value = self._outcome(reply)
            # The last non-null value wins: a legacy two-part reply sends the
            # result first and a bare ending=true after it.
            if value is not None:
                result = value
            if reply.get('ending'):
                break
        if isinstance(result, BaseException):
            raise result
        return result

    def collect(self, msg_id: str, timeout: float,
                started: Optional[float] = None) -> list[tuple[float, Any]]:
        """Every final reply to ``msg_id`` that arrives within ``timeout``
        of ``started`` (a ``time.monotonic()`` reading, default now).

        For a request sent to several servers: ``(monotonic arrival time,
        result or rebuilt exception)`` per answering server.
        """
        mailbox = self._waiters[msg_id]
        deadline = (started or time.monotonic()) + timeout
        answers = []
        while True:
            try:
                reply = self._turns.next_reply(mailbox, max(deadline - time.monotonic(), 0))
            except queue.Empty:
                return answers
            if reply is QUEUE_LOST:
                return answers
            if reply.get('ending'):
                answers.append((time.monotonic(), self._outcome(reply)))

    def _recheck_queue(self) -> None:
        """After a call timed out, have the next reader make sure the
        reply queue still exists (at most every ``RECHECK_INTERVAL``).

        A broker can lose a classic reply queue without cancelling its
        consumer: a cluster node that owned it stops while the waiter,
        already reconnected elsewhere, declares it again. Replies then have
        nowhere to go and every call would time out; the check declares the
        queue again (``SharedConnection.check_queue``). The next reader does it,
        so that the timed-out caller does not wait for it too.
        """
        now = time.monotonic()
        # Not self._lock: a first call may hold it while it declares.
        with self._recheck_lock:
            if self._connection is None or self._stopping.is_set() or now < self._next_recheck:
                return
            self._next_recheck = now + RECHECK_INTERVAL
        self._recheck_wanted.set()
        self._turns.wake_background()

    def _check_queue(self, connection: SharedConnection) -> None:
        """Declare the reply queue again if lost; consume it anew if the
        broker is not delivering it to us: it counts no consumer, or it
        holds replies while none reached us since the last check. Seen on
        RabbitMQ 4.3 once in about ten runs of a partition test: after the
        heal, a quorum reply queue whose leader had moved meanwhile
        delivered nothing more to its consumer on the node that had been
        cut off, and every call timed out."""
        try:
            ready, consumers = connection.check_queue(self.queue_name)
        except Exception as ex:
            LOG.warning('Could not check reply queue %s after a call timed out: %s',
                        self.queue_name, ex)
            return
        received = self._replies_received
        idle = received == self._received_at_last_check
        self._received_at_last_check = received
        if consumers == 0 or (ready and idle):
            LOG.warning('Reply queue %s on %s holds %d replies and counts %d consumers, and no '
                        'reply reached us since its last check: the broker is not delivering '
                        'it to us. Consuming it again on a new connection',
                        self.queue_name, connection.host, ready, consumers)
            connection.link.mark_broken()

    def _outcome(self, reply: dict) -> Any:
        """A reply's result, or the remote exception it carries, rebuilt."""
        failure = reply.get('failure')
        if failure:
            return wire.deserialize_remote_exception(failure, self._allowed_remote_exmods)
        return reply.get('result')

    def stop(self) -> None:
        """Stop the thread and close its connection."""
        self._stopping.set()
        self._turns.wake_background()
        with self._lock:
            thread = self._thread
        # Close first: a thread sleeping before a reconnect then gives up
        # instead of declaring the reply queue again.
        if self._connection is not None:
            self._connection.close()
        if thread is not None:
            thread.join(timeout=DRAIN_SLICE * 8)
