"""A listening connection shared by many listeners (consumer_hub.py), read
by one I/O thread.

Built of the same parts as any connection, and of an I/O loop: the link
(made with the I/O thread's turns, io_turns.py, so that another thread's
declaration or cancel wakes the reader and gets the connection at once),
the consumer set, the heartbeat (ticked by the I/O thread, no thread of
its own) and the I/O loop (io_loop.py), started with the first consumer.
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

# How long close() waits for the I/O thread.
JOIN_TIMEOUT = 5.0


class SharedConnection:
    """A listening connection whose consumers one I/O thread serves.

    :param conf: the driver's view of ``[oslo_messaging_rabbit]``.
    :param broker_urls: kombu URLs, one per host, tried in failover order.
    :param confirm: accepted for the driver's connection factory; a
        listening connection publishes nothing (False).
    """

    def __init__(self, conf: Any, broker_urls: list[str], ssl: Any = False,
                 confirm: bool = False, codec_: Optional[codec.Codec] = None) -> None:
        self.codec = codec_ or codec.Codec(conf.kombu_compression, conf.max_message_size)
        turns = IoTurns()
        #: The parts (see the module docstring).
        self.link = Link(conf, broker_urls, ssl=ssl, confirm=confirm, turns=turns)
        self.consumers = ConsumerSet(self.link, conf)
        self.heartbeat = heartbeat_of(self.link, conf, own_thread=False)
        self.io_loop = IoLoop(self.link, self.consumers, self.heartbeat, turns)
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
                         deadline: Optional[float] = None, cursor: Any = None) -> str:
        """Declare and consume a queue (``ConsumerSet.declare``); the I/O
        thread starts with the first consumer."""
        tag = self.consumers.declare(spec, callback, deadline, cursor)
        self.io_loop.start()
        return tag

    def cancel_consumers(self, tags: Optional[list[str]] = None) -> None:
        """Stop consuming (``ConsumerSet.cancel``)."""
        self.consumers.cancel(tags)

    def ack(self, channel: amqp.Channel, delivery_tag: int, requeue: Optional[bool] = None
            ) -> None:
        """Ack or reject a delivery (``ConsumerSet.ack``); from any thread."""
        self.consumers.ack(channel, delivery_tag, requeue)

    def delete_queue(self, name: str) -> None:
        """Delete a queue (``queues.delete_queue``)."""
        queues.delete_queue(self.link, name)

    def close(self) -> None:
        """Close the connection and stop the I/O thread."""
        self.link.close()
        self.io_loop.join(JOIN_TIMEOUT)
        self._turns.close()
