"""The lean frame engine (``rabbit_frame_engine = lean``, the default): the
frames of the hot path encoded and decoded by our own code.

- publishes, acks and rejects are encoded by frames.py and written in one
  socket write each, under the lock of the frame writer py-amqp writes
  through;
- frames are read from one receive buffer (frame_reader.FrameReader), and
  deliveries and publisher confirms dispatched straight to the consumers
  and confirm handlers registered with the connection
  (frame_reader.FastDispatch); everything else goes to py-amqp;
- the connection that holds these is amqp_link.AmqpLink, a subclass of
  kombu's py-amqp connection built through documented extension points.

About half the client CPU per message of py-amqp's generic path (see
benchmarks/publish_cpu.py and benchmarks/frame_codec.py). Each function
here is the engine's implementation itself, not a wrapper: the hot path
pays no call for the engine being chosen.
"""
from __future__ import annotations

from typing import Any, Callable

import amqp

from messaging.drivers.rabbit.engine.amqp_link import KombuConnection, has_buffered_frame
from messaging.drivers.rabbit.engine.connection_state import set_socket_timeout
from messaging.drivers.rabbit.engine.frames import ack, encode_properties, publish, reject

NAME = 'lean'

__all__ = ['NAME', 'ack', 'encode_properties', 'has_buffered_frame', 'kombu_connection',
           'publish', 'register_confirms', 'reject', 'set_socket_timeout']


def kombu_connection(urls: list[str], **kwargs: Any) -> KombuConnection:
    """A kombu connection to ``urls`` (in failover order) whose py-amqp
    connections are ``AmqpLink``; ``kwargs`` as ``kombu.Connection``'s."""
    return KombuConnection(urls, **kwargs)


def register_confirms(channel: amqp.Channel, on_ack: Callable[[int, bool], Any],
                      on_nack: Callable[[int, bool], Any]) -> None:
    """Have the broker's ``basic.ack``/``basic.nack`` on ``channel`` (of an
    ``AmqpLink``) handled by ``on_ack``/``on_nack(delivery_tag, multiple)``."""
    channel.connection.register_confirms(channel, on_ack, on_nack)
