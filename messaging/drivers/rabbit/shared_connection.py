"""A listening connection, shared by many listeners (a hub connection,
consumer_hub.py) or by every call of the process (the reply connection,
reply_waiter.py).

Built of the same parts as any connection, and of a reader (reader.py):
the link (made with the reader's turns, io_turns.py, so that another
thread's declaration or cancel wakes the reader and gets the connection at
once), the consumer set, the heartbeat (ticked by the reader, no thread of
its own) and the reader. A hub connection steps its reader on an I/O
thread (io_loop.py), started with the first consumer; the reply
connection's is stepped by whoever holds the reply waiter's reading turn
(:meth:`SharedConnection.read`).
"""
from __future__ import annotations

from typing import Any, Callable, Optional

import amqp

from messaging.drivers.rabbit import codec, queues
from messaging.drivers.rabbit.consumer_set import ConsumerSet
from messaging.drivers.rabbit.declarations import QueueSpec
from messaging.drivers.rabbit.heartbeat import heartbeat_of
from messaging.drivers.rabbit.io_loop import IoLoop
from messaging.drivers.rabbit.io_turns import IoTurns
from messaging.drivers.rabbit.link import Link
from messaging.drivers.rabbit.reader import Reader
from messaging.drivers.rabbit.unconfirming_hosts import UnconfirmingHosts

# How long close() waits for the I/O thread.
JOIN_TIMEOUT = 5.0


class SharedConnection:
    """A listening connection whose consumers one reader serves.

    :param conf: the driver's view of ``[oslo_messaging_rabbit]``.
    :param broker_urls: kombu URLs, one per host, tried in failover order.
    :param unconfirming: the hosts the driver's connections leave
        (unconfirming_hosts.py); None for a server's, which stay.
    :param io_thread: step the reader on an I/O thread of its own (a hub
        connection); else the owner calls :meth:`read` (the reply
        connection).
    """

    def __init__(self, conf: Any, broker_urls: list[str], ssl: Any = False,
                 codec_: Optional[codec.Codec] = None,
                 unconfirming: Optional[UnconfirmingHosts] = None, io_thread: bool = True) -> None:
        self.codec = codec_ or codec.Codec(conf.kombu_compression, conf.max_message_size)
        turns = IoTurns()
        #: The parts (see the module docstring).
        self.link = Link(conf, broker_urls, ssl=ssl, confirm=False, turns=turns,
                         unconfirming=unconfirming)
        self.consumers = ConsumerSet(self.link, conf)
        self.heartbeat = heartbeat_of(self.link, conf, own_thread=False)
        self.reader = Reader(self.link, self.consumers, self.heartbeat, turns)
        self.io_loop = IoLoop(self.link, self.reader) if io_thread else None
        self._turns = turns

    @property
    def name(self) -> str:
        """How the broker shows this connection (``<program>:<pid>:<uuid>``)."""
        return self.link.name

    @property
    def channel(self) -> Optional[amqp.Channel]:
        """The current channel; deliveries from an older one cannot be acked."""
        return self.link.channel

    def declare_consumer(self, spec: QueueSpec, callback: Callable[[Any], None],
                         deadline: Optional[float] = None, cursor: Any = None,
                         renew: Optional[Callable[[QueueSpec], QueueSpec]] = None) -> str:
        """Declare and consume a queue (``ConsumerSet.declare``); the I/O
        thread, if any, starts with the first consumer."""
        tag = self.consumers.declare(spec, callback, deadline, cursor, renew)
        if self.io_loop is not None:
            self.io_loop.start()
        return tag

    def read(self, timeout: float, done: Optional[Callable[[], bool]] = None) -> None:
        """Without an I/O thread: be the reader for one step of up to
        ``timeout`` seconds, ended early once ``done()`` is true
        (``Reader.step``); callbacks run on this thread. One thread at a time."""
        with self.reader.reading():
            self.reader.step(timeout, done)

    def cancel_consumers(self, tags: Optional[list[str]] = None) -> None:
        """Stop consuming (``ConsumerSet.cancel``)."""
        self.consumers.cancel(tags)

    def ack(self, channel: amqp.Channel, delivery_tag: int, requeue: Optional[bool] = None
            ) -> None:
        """Ack or reject a delivery (``ConsumerSet.ack``); from any thread."""
        self.consumers.ack(channel, delivery_tag, requeue)

    def check_queue(self, name: str) -> tuple[int, int]:
        """Declare a lost queue again; its ``(ready messages, consumers)``
        (``queues.check_queue``)."""
        return queues.check_queue(self.link, name)

    def delete_queue(self, name: str) -> None:
        """Delete a queue (``queues.delete_queue``)."""
        queues.delete_queue(self.link, name)

    def close(self) -> None:
        """Close the connection and stop the I/O thread."""
        self.link.close()
        if self.io_loop is not None:
            self.io_loop.join(JOIN_TIMEOUT)
        self._turns.close()
