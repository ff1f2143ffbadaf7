"""Stand-ins for kombu's connection, a py-amqp channel and the rabbit options,
so that a real ``link.Link`` and the parts built on it run without a broker.

``linked(...)`` gives a Link whose kombu connection is a :class:`FakeKombu`:
every connect makes a :class:`FakeChannel`, and the link's own connect path
(channel users, generation, confirms) runs as it does on a broker.
"""
from __future__ import annotations

import socket
from types import SimpleNamespace
from typing import Any, Callable, Optional

from amqp.exceptions import RecoverableConnectionError

from messaging.drivers.rabbit.link import Link
from tests import frame_engine

DEAD_URL = 'amqp://guest:guest@127.0.0.1:1//'


def conf(**overrides: Any) -> SimpleNamespace:
    """The rabbit options a link and its parts read, fast backoff."""
    values = dict(kombu_compression=None, max_message_size=0,
                  rabbit_login_method='AMQPLAIN', heartbeat_timeout_threshold=0,
                  heartbeat_rate=2, kombu_failover_strategy='round-robin',
                  kombu_reconnect_delay=0.01, kombu_reconnect_splay=0.0,
                  rabbit_retry_interval=0.01, rabbit_retry_backoff=0.01,
                  rabbit_interval_max=0.05, rabbit_qos_prefetch_count=0,
                  publish_timeout=1.0, enable_cancel_on_failover=False,
                  rabbit_frame_engine=frame_engine.NAME)
    values.update(overrides)
    return SimpleNamespace(**values)


class FakeSocket:
    """Remembers the timeouts it is given."""

    def __init__(self) -> None:
        self.timeouts: list[Optional[float]] = []
        self._timeout: Optional[float] = None

    def gettimeout(self) -> Optional[float]:
        return self._timeout

    def settimeout(self, timeout: Optional[float]) -> None:
        self._timeout = timeout
        self.timeouts.append(timeout)


class FakeAmqpConnection:
    """The py-amqp connection under a FakeChannel."""

    frame_max = 4096

    def __init__(self) -> None:
        self.sock = FakeSocket()
        self.transport = SimpleNamespace(sock=self.sock)
        self.heartbeats = 0
        self.reads = 0
        self.frames: list[bytes] = []
        self.on_heartbeat: Callable[[], None] = lambda: None
        self.on_write: Callable[[bytes], None] = lambda chunk: None

    def write_frames(self, chunks: Any) -> None:
        for chunk in chunks:
            self.on_write(chunk)
            self.frames.append(chunk)

    def register_confirms(self, channel: Any, on_ack: Any, on_nack: Any) -> None:
        self.confirm_handlers = (on_ack, on_nack)

    def heartbeat_tick(self, rate: int) -> None:
        self.heartbeats += 1
        self.on_heartbeat()

    def drain_events(self, timeout: Optional[float] = None) -> None:
        self.reads += 1

    def blocking_read(self, timeout: Optional[float] = None) -> bool:
        """One frame: counted apart from ``drain_events``'s reads."""
        self.frames_read = getattr(self, 'frames_read', 0) + 1
        return False


class FakeChannel:
    """Records the methods called on it; ``fail`` maps a method name, or a
    ``(method name, first argument)`` pair, to the exception it raises
    (once each, unless ``sticky``).

    The lean engine writes a publish, an ack or a reject with its
    connection's ``write_frames``; the stock engine calls the channel's
    ``basic_publish``, ``basic_ack`` or ``basic_reject``, which here write
    one frame each through the same ``write_frames``, with py-amqp's
    errors. Either way ``connection.frames`` has one entry per frame
    written."""

    channel_id = 1

    def __init__(self, fail: Optional[dict] = None, sticky: bool = False) -> None:
        self.connection = FakeAmqpConnection()
        self.calls: list[tuple] = []
        self.events = {'basic_return': set(), 'basic_ack': set(), 'basic_nack': set()}
        self.fail = dict(fail or {})
        self.sticky = sticky
        #: The ``on_cancel`` of each consumer, by tag.
        self.cancel_hooks: dict[str, Any] = {}

    def _call(self, name: str, *args: Any) -> None:
        self.calls.append((name,) + args)
        for key in ((name,) + args[:1], name):
            if key in self.fail:
                raise self.fail[key] if self.sticky else self.fail.pop(key)

    def confirm_select(self) -> None:
        self._call('confirm_select')

    def _write(self, frame: bytes) -> None:
        """Write as py-amqp's ``send_method`` does."""
        if self.connection is None:
            raise RecoverableConnectionError('connection already closed')
        self.connection.write_frames((frame,))

    def basic_publish(self, msg: Any, exchange: str, routing_key: str,
                      mandatory: bool = False) -> None:
        try:
            self._write(b'publish:' + msg.body)
        except socket.timeout:
            raise RecoverableConnectionError('basic_publish: timed out') from None

    def basic_ack(self, delivery_tag: int) -> None:
        self._write(b'ack:%d' % delivery_tag)

    def basic_reject(self, delivery_tag: int, requeue: bool) -> None:
        self._write(b'reject:%d' % delivery_tag)

    def basic_qos(self, size: int, count: int, global_: bool) -> None:
        self._call('basic_qos', count)

    def queue_declare(self, name: str, **kwargs: Any) -> tuple:
        self._call('queue_declare', name)
        return name, 0, 0

    def queue_bind(self, queue: str, exchange: str, key: str, **kwargs: Any) -> None:
        self._call('queue_bind', queue, exchange)

    def exchange_declare(self, name: str, type: str, **kwargs: Any) -> None:
        self._call('exchange_declare', name)

    def basic_consume(self, queue: str, consumer_tag: str, **kwargs: Any) -> str:
        self._call('basic_consume', queue, consumer_tag)
        self.cancel_hooks[consumer_tag] = kwargs.get('on_cancel')
        return consumer_tag

    def broker_cancels(self, tag: str) -> None:
        """The broker's ``basic.cancel`` of consumer ``tag``, as py-amqp
        hands it to the consumer's ``on_cancel``."""
        self.cancel_hooks.pop(tag)(tag)

    def basic_cancel(self, tag: str) -> None:
        self._call('basic_cancel', tag)


class FakeKombu:
    """What a Link uses of its kombu connection; each connect makes a
    channel with ``make_channel()`` (a FakeChannel by default)."""

    hostname, port, virtual_host, transport_cls = '127.0.0.1', 5672, '/', 'amqp'

    def __init__(self, make_channel: Callable[[], Any] = FakeChannel) -> None:
        self.make_channel = make_channel
        self.channels: list[Any] = []
        self.connect_timeout: Optional[float] = None
        self.collected = 0

    def ensure_connection(self, **kwargs: Any) -> None:
        pass

    def channel(self) -> Any:
        self.channels.append(self.make_channel())
        return self.channels[-1]

    def collect(self) -> None:
        self.collected += 1

    def release(self) -> None:
        pass

    def maybe_switch_next(self) -> None:
        pass


def linked(make_channel: Callable[[], Any] = FakeChannel, **options: Any
           ) -> tuple[Link, FakeKombu]:
    """A Link (listening unless ``confirm=True``) on a FakeKombu."""
    confirm = options.pop('confirm', False)
    turns = options.pop('turns', None)
    link = Link(conf(**options), [DEAD_URL], confirm=confirm, turns=turns)
    kombu = FakeKombu(make_channel)
    link._kombu = kombu
    return link, kombu
