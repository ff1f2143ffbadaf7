"""The in-memory driver (``fake://``): a small broker inside the process.

It keeps RabbitMQ's observable rules so that code tested on it behaves the
same on a real broker: a topic queue exists once a server has listened on it
and keeps messages while no server runs; a message to a queue nobody declared
is dropped, so a call to a topic with no server times out; a call request
expires with its timeout; fanout reaches one queue per listening server;
notifications collect in ``<topic>.<priority>`` queues (or a pool's queue).
Every body goes through JSON, so what cannot cross a real wire fails here.
State belongs to one driver (one transport), as in oslo.messaging.
"""
from __future__ import annotations

import collections
import contextlib
import itertools
import json
import logging
import threading
import time
from typing import Any, Optional

from messaging import _jsonutils
from messaging import exceptions
from messaging.drivers import base
from messaging.drivers import common

LOG = logging.getLogger(__name__)

DEFAULT_EXCHANGE = ''
# For waits that only a message or the deadline ends (a caller's reply).
_NEVER_STOPPED = threading.Event()


def _expiry(timeout: Optional[float]) -> Optional[float]:
    """When a request sent now with ``timeout`` expires (monotonic), if ever."""
    return None if timeout is None else time.monotonic() + timeout


class _Broker:
    """Queues, bindings and a single condition every waiter sleeps on."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._queues: dict[str, collections.deque] = {}
        self._bindings: dict[tuple[str, str], set[str]] = collections.defaultdict(set)

    def declare(self, queue: str, exchange: str = DEFAULT_EXCHANGE,
                routing_key: Optional[str] = None) -> None:
        with self._cond:
            self._queues.setdefault(queue, collections.deque())
            self._bindings[(exchange, queue if routing_key is None else routing_key)].add(queue)

    def delete(self, queue: str) -> None:
        with self._cond:
            self._queues.pop(queue, None)
            for bound in self._bindings.values():
                bound.discard(queue)

    def publish(self, exchange: str, routing_key: str, body: str,
                expires_at: Optional[float] = None) -> int:
        """Deliver to every bound queue; the number of queues reached."""
        with self._cond:
            targets = [q for q in self._bindings.get((exchange, routing_key), ())
                       if q in self._queues]
            for queue in targets:
                self._queues[queue].append((body, expires_at))
            if targets:
                self._cond.notify_all()
            return len(targets)

    def requeue(self, queue: str, body: str) -> None:
        with self._cond:
            if queue in self._queues:
                self._queues[queue].appendleft((body, None))
                self._cond.notify_all()

    def get(self, queues: list[str], timeout: Optional[float],
            stopped: threading.Event) -> Optional[tuple[str, str]]:
        """The next live message from any of ``queues``, or None."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while not stopped.is_set():
                found = self._take(queues)
                if found is not None:
                    return found
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return None
                self._cond.wait(left)
            return None

    def _take(self, queues: list[str]) -> Optional[tuple[str, str]]:
        now = time.monotonic()
        for queue in queues:
            pending = self._queues.get(queue)
            while pending:
                body, expires_at = pending.popleft()
                if expires_at is None or expires_at > now:
                    return queue, body
        return None

    def wake_all(self) -> None:
        with self._cond:
            self._cond.notify_all()


class FakeIncomingMessage(base.RpcIncomingMessage):
    """A message taken from a fake queue."""

    def __init__(self, driver: 'FakeDriver', queue: str, body: str) -> None:
        raw = json.loads(body)
        ctxt, msg_id, reply_q = common.unpack_context(raw)
        super().__init__(ctxt, raw, msg_id)
        self._driver = driver
        self._queue = queue
        self._body = body
        self._reply_q = reply_q

    def acknowledge(self) -> None:
        """Nothing to do: the message already left its queue."""

    def requeue(self) -> None:
        self._driver._broker.requeue(self._queue, self._body)

    def reply(self, reply: Any = None, failure: Optional[BaseException] = None) -> None:
        if self.msg_id is None:
            return
        self._driver._send_reply(self._reply_q, self.msg_id, reply, failure, ending=True)

    def heartbeat(self) -> None:
        if self.msg_id is not None:
            self._driver._send_reply(self._reply_q, self.msg_id, None, None, ending=False)


class FakeListener(base.Listener):
    """Takes messages from a fixed set of fake queues."""

    def __init__(self, driver: 'FakeDriver', queues: list[str], batch_size: int = 1,
                 batch_timeout: Optional[float] = None,
                 delete_on_cleanup: Optional[list[str]] = None) -> None:
        super().__init__(batch_size, batch_timeout)
        self._driver = driver
        self._queues = queues
        self._delete_on_cleanup = delete_on_cleanup or []
        self._stopped = threading.Event()
        self._turn = itertools.cycle(range(len(queues)))

    def _poll_one(self, timeout: Optional[float]) -> Optional[FakeIncomingMessage]:
        if not self._queues:
            self._stopped.wait(timeout)
            return None
        start = next(self._turn)
        order = self._queues[start:] + self._queues[:start]
        found = self._driver._broker.get(order, timeout, self._stopped)
        if found is None:
            return None
        return FakeIncomingMessage(self._driver, *found)

    def stop(self) -> None:
        self._stopped.set()
        self._driver._broker.wake_all()

    def cleanup(self) -> None:
        for queue in self._delete_on_cleanup:
            self._driver._broker.delete(queue)


class FakeDriver(base.BaseDriver):
    """In-memory driver: the embedded default for tests and demos."""

    def __init__(self, conf, url, default_exchange: Optional[str] = None,
                 allowed_remote_exmods: Optional[list[str]] = None) -> None:
        super().__init__(conf, url, default_exchange, allowed_remote_exmods)
        self._broker = _Broker()

    def _exchange(self, target) -> str:
        return target.exchange or self._default_exchange or 'openstack'

    @staticmethod
    def _encode(what: str, value: Any) -> str:
        # The same encoder as the real wire (common.serialize_msg): what it
        # converts (datetimes, sets) passes, what it cannot encode fails here.
        try:
            return _jsonutils.dumps(value)
        except (TypeError, ValueError) as ex:
            raise exceptions.MessagingException(
                'The %s cannot be sent: it is not JSON-serializable (%s); convert '
                'it with a serializer first' % (what, ex)) from ex

    def send(self, target, ctxt, message, wait_for_reply=None, timeout=None,
             call_monitor_timeout=None, retry=None, transport_options=None):
        msg = self._request(message, ctxt)
        if target.fanout:
            self._broker.publish(target.topic + '_fanout', '', self._encode('message', msg))
            return None
        routing_key = target.topic + ('.' + target.server if target.server else '')
        if not wait_for_reply:
            self._broker.publish(self._exchange(target), routing_key,
                                 self._encode('message', msg))
            return None
        with self._reply_queue(msg, call_monitor_timeout) as (msg_id, reply_q):
            self._broker.publish(self._exchange(target), routing_key,
                                 self._encode('message', msg), _expiry(timeout))
            return self._wait_for_reply(reply_q, msg_id, message.get('method'),
                                        timeout, call_monitor_timeout)

    def fanout_call(self, target, ctxt, message, timeout):
        msg = self._request(message, ctxt)
        with self._reply_queue(msg, None) as (_msg_id, reply_q):
            self._broker.publish(target.topic + '_fanout', '', self._encode('message', msg),
                                 _expiry(timeout))
            deadline = time.monotonic() + timeout
            answers = []
            while True:
                found = self._broker.get([reply_q], max(deadline - time.monotonic(), 0),
                                         _NEVER_STOPPED)
                if found is None:
                    return answers
                reply = json.loads(found[1])
                if reply.get('ending'):
                    answers.append((time.monotonic(), self._reply_value(reply)))

    @staticmethod
    def _request(message: dict, ctxt: dict) -> dict:
        msg = dict(message)
        msg['_unique_id'] = common.unique_id()
        common.pack_context(msg, ctxt)
        return msg

    @contextlib.contextmanager
    def _reply_queue(self, msg: dict, call_monitor_timeout: Optional[float]):
        """Make ``msg`` a call with a reply queue of its own, deleted afterwards."""
        msg_id, reply_q = common.unique_id(), 'reply_' + common.unique_id()
        msg.update(_msg_id=msg_id, _reply_q=reply_q, _timeout=call_monitor_timeout)
        self._broker.declare(reply_q)
        try:
            yield msg_id, reply_q
        finally:
            self._broker.delete(reply_q)

    def _reply_value(self, reply: dict) -> Any:
        if reply.get('failure'):
            return common.deserialize_remote_exception(reply['failure'],
                                                       self._allowed_remote_exmods)
        return reply.get('result')

    def _wait_for_reply(self, reply_q: str, msg_id: str, method: Optional[str],
                        timeout: Optional[float], call_monitor_timeout: Optional[float]):
        deadline = None if timeout is None else time.monotonic() + timeout
        result = None
        while True:
            waits = [w for w in (call_monitor_timeout,
                                 None if deadline is None else deadline - time.monotonic())
                     if w is not None]
            found = self._broker.get([reply_q], min(waits) if waits else None,
                                     _NEVER_STOPPED)
            if found is None:
                raise exceptions.MessagingTimeout(
                    'Timed out waiting for a reply to message ID %s (method %s)'
                    % (msg_id, method))
            reply = json.loads(found[1])
            value = self._reply_value(reply)
            if value is not None:
                result = value
            if reply.get('ending'):
                if isinstance(result, BaseException):
                    raise result
                return result

    def _send_reply(self, reply_q: str, msg_id: str, result: Any,
                    failure: Optional[BaseException], ending: bool) -> None:
        reply = {'result': result,
                 'failure': common.serialize_remote_exception(failure) if failure else None,
                 'ending': ending, '_msg_id': msg_id}
        if not self._broker.publish(DEFAULT_EXCHANGE, reply_q, self._encode('reply', reply)):
            LOG.info('The caller of message %s went away (reply queue %s is gone); '
                     'reply dropped', msg_id, reply_q)

    def send_notification(self, target, ctxt, message, version, retry=None):
        msg = dict(message)
        msg['_unique_id'] = common.unique_id()
        common.pack_context(msg, ctxt)
        exchange = self._exchange(target)
        self._broker.declare(target.topic, exchange, target.topic)
        self._broker.publish(exchange, target.topic, self._encode('notification', msg))

    def listen(self, target, batch_size, batch_timeout):
        exchange = self._exchange(target)
        server_key = '%s.%s' % (target.topic, target.server)
        fanout_q = '%s_fanout_%s' % (target.topic, common.unique_id())
        self._broker.declare(target.topic, exchange, target.topic)
        self._broker.declare(server_key, exchange, server_key)
        self._broker.declare(fanout_q, target.topic + '_fanout', '')
        return FakeListener(self, [target.topic, server_key, fanout_q], batch_size,
                            batch_timeout, delete_on_cleanup=[fanout_q])

    def listen_for_notification(self, targets_and_priorities, pool, batch_size,
                                batch_timeout):
        queues = []
        for target, priority in targets_and_priorities:
            routing_key = '%s.%s' % (target.topic, priority)
            queue = pool or routing_key
            self._broker.declare(queue, self._exchange(target), routing_key)
            if queue not in queues:
                queues.append(queue)
        return FakeListener(self, queues, batch_size, batch_timeout)

    def delete_queue(self, queue: str) -> None:
        self._broker.delete(queue)

    def cleanup(self) -> None:
        """Nothing to release: the broker lives and dies with the driver."""
