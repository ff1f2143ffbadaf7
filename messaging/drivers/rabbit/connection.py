"""A send connection: a link with its publisher and heartbeat thread.

A ``Connection`` has publisher confirms on and is taken from the pool by one
user at a time (``publish``, the queue checks of tools and timeout
diagnosis, the retiring of a queue). The listening connections (the hub's,
the reply queue's) are shared_connection.py's.

Each job is a part's: the link (link.py: socket, channel, locks, ``ensure``,
socket timeouts), the publisher (publisher.py) and the heartbeat
(heartbeat.py, on a thread of its own here). This class only builds them
and offers their methods.
"""
from __future__ import annotations

from typing import Any, Callable, Optional

import amqp

from messaging.drivers.rabbit import codec, queue_retirement, queues
from messaging.drivers.rabbit.declarations import ExchangeSpec, QueueSpec
from messaging.drivers.rabbit.heartbeat import heartbeat_of
from messaging.drivers.rabbit.link import Link
from messaging.drivers.rabbit.publisher import Publisher
from messaging.drivers.rabbit.queue_retirement import RetiredQueue
from messaging.drivers.rabbit.unconfirming_hosts import UnconfirmingHosts

# How long close() waits for the heartbeat thread.
JOIN_TIMEOUT = 5.0


class Connection:
    """One AMQP connection to publish on, with confirms, reconnected on demand.

    :param conf: the driver's view of ``[oslo_messaging_rabbit]``.
    :param broker_urls: kombu URLs, one per host, tried in failover order.
    :param unconfirming: the hosts the driver's connections leave
        (unconfirming_hosts.py).
    """

    def __init__(self, conf: Any, broker_urls: list[str], ssl: Any = False,
                 codec_: Optional[codec.Codec] = None,
                 unconfirming: Optional[UnconfirmingHosts] = None) -> None:
        self.codec = codec_ or codec.Codec(conf.kombu_compression, conf.max_message_size)
        #: The parts, each with one job (see the module docstring).
        self.link = Link(conf, broker_urls, ssl=ssl, confirm=True,
                         unconfirming=unconfirming)
        self.publisher = Publisher(self.link, self.codec, conf.publish_timeout)
        self.heartbeat = heartbeat_of(self.link, conf, own_thread=True)

    @property
    def name(self) -> str:
        """How the broker shows this connection (``<program>:<pid>:<uuid>``)."""
        return self.link.name

    @property
    def host(self) -> str:
        """The current broker as ``host:port`` (never with credentials)."""
        return self.link.host

    @property
    def channel(self) -> Optional[amqp.Channel]:
        """The current channel; deliveries from an older one cannot be acked."""
        return self.link.channel

    @property
    def generation(self) -> int:
        """How many times the connection was (re)established (``Link.generation``)."""
        return self.link.generation

    def ensure(self, method: Callable[[amqp.Channel], Any], retry: Optional[int] = None,
               what: str = 'operation', deadline: Optional[float] = None) -> Any:
        """Run ``method(channel)`` through the retry path (``Link.ensure``)."""
        return self.link.ensure(method, retry=retry, what=what, deadline=deadline)

    def publish(self, exchange: Optional[ExchangeSpec], routing_key: str, body: dict,
                expiration: Optional[float] = None, mandatory: bool = False,
                retry: Optional[int] = None, declare: Optional[QueueSpec] = None,
                deadline: Optional[float] = None) -> None:
        """Publish ``body``, confirmed on a send connection (``Publisher.publish``)."""
        self.publisher.publish(exchange, routing_key, body, expiration, mandatory, retry,
                               declare, deadline)

    def queue_state(self, name: str, deadline: Optional[float] = None
                    ) -> Optional[tuple[int, int]]:
        """``(ready messages, consumers)`` of a queue (``queues.queue_state``)."""
        return queues.queue_state(self.link, name, deadline)

    def delete_queue(self, name: str) -> None:
        """Delete a queue (``queues.delete_queue``)."""
        queues.delete_queue(self.link, name)

    def retire_queue(self, name: str, exchange: str, routing_key: str,
                     timeout: float) -> RetiredQueue:
        """Unbind, drain and delete a shared queue (``queue_retirement``)."""
        return queue_retirement.retire_queue(self.link, name, exchange, routing_key, timeout)

    def close(self) -> None:
        """Close the connection and stop its heartbeat thread."""
        self.link.close()
        self.heartbeat.join(JOIN_TIMEOUT)
