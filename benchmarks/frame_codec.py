#!/usr/bin/env python3
"""Our hand-made AMQP frame code against pamqp's codec, on the same frames.

pamqp (which aiormq and aio-pika build on) is the well-kept pure-Python AMQP
0-9-1 frame codec. Before owning the frame layer further, this measures it
against ours on the work of every message:

- **encode a publish**: basic.publish, its content header with the
  properties every message carries, and a 100 B body, as one bytes object
  (ours: ``frames.encode_properties`` then ``frames.encode_publish``; pamqp:
  ``frame.marshal`` of ``Basic.Publish``, ``ContentHeader`` and
  ``ContentBody``);
- **encode an ack** (``frames.encode_ack``; pamqp's ``Basic.Ack``);
- **decode a delivery**: the method, header and body frames of a
  basic.deliver into a message with its properties and delivery info (ours:
  ``FastDispatch.on_frame`` on the three frames, up to the consumer's
  callback; pamqp: ``frame.unmarshal`` of each frame, from the raw bytes).

Each is timed in this process with ``timeit`` (best of several repeats), so
the ratio holds on a busy machine. Usage: ``python3 benchmarks/frame_codec.py``
(needs ``pip install pamqp``).
"""
from __future__ import annotations

import timeit
from types import SimpleNamespace

from pamqp import commands, frame, header
from pamqp import body as pamqp_body

from messaging.drivers.rabbit.engine import frame_reader, frames

BODY = b'{"oslo.version": "2.0", "oslo.message": "' + b'x' * 56 + b'"}'
PROPERTIES = {'content_type': 'application/json', 'content_encoding': 'utf-8',
              'application_headers': {}, 'delivery_mode': 2, 'priority': 0}
EXCHANGE, ROUTING_KEY, TAG = 'openstack', 'compute.host1', '7'
FRAME_MAX = 131072


def ours_publish() -> bytes:
    properties = frames.encode_properties(PROPERTIES)
    return b''.join(frames.encode_publish(1, FRAME_MAX, EXCHANGE, ROUTING_KEY, False,
                                          properties, BODY))


def pamqp_publish() -> bytes:
    return b''.join((
        frame.marshal(commands.Basic.Publish(exchange=EXCHANGE, routing_key=ROUTING_KEY), 1),
        frame.marshal(header.ContentHeader(0, len(BODY), commands.Basic.Properties(
            content_type='application/json', content_encoding='utf-8', headers={},
            delivery_mode=2, priority=0)), 1),
        frame.marshal(pamqp_body.ContentBody(BODY), 1)))


def delivery_frames() -> list[bytes]:
    """The three raw frames of one basic.deliver (pamqp writes them)."""
    return [
        frame.marshal(commands.Basic.Deliver(consumer_tag=TAG, delivery_tag=42,
                                             exchange=EXCHANGE, routing_key=ROUTING_KEY), 1),
        frame.marshal(header.ContentHeader(0, len(BODY), commands.Basic.Properties(
            content_type='application/json', content_encoding='utf-8', headers={},
            delivery_mode=2, priority=0)), 1),
        frame.marshal(pamqp_body.ContentBody(BODY), 1)]


def ours_decoder():
    """FastDispatch on a stand-in link with one consumer; the frames as our
    FrameReader hands them over (type, channel, payload)."""
    channel = SimpleNamespace(auto_decode=False, is_closing=False)
    link = SimpleNamespace(bytes_recv=0, channels={1: channel})
    received = []
    dispatch = frame_reader.FastDispatch(link, lambda *args: None,
                                         {(1, TAG): (channel, received.append)}, {})
    split = [(raw[0], int.from_bytes(raw[1:3], 'big'), raw[7:-1])
             for raw in delivery_frames()]

    def decode():
        for item in split:
            dispatch.on_frame(item)
        message = received.pop()
        return message.properties, message.delivery_info, message.body
    return decode


def pamqp_decoder():
    raws = delivery_frames()

    def decode():
        method = frame.unmarshal(raws[0])[2]
        content = frame.unmarshal(raws[1])[2]
        body = frame.unmarshal(raws[2])[2]
        return content.properties, method, body.value
    return decode


def best(function, number: int = 20000, repeat: int = 5) -> float:
    """Microseconds per call, best of ``repeat`` runs."""
    return min(timeit.repeat(function, number=number, repeat=repeat)) / number * 1e6


def main() -> None:
    assert frame.unmarshal(ours_publish())[2].routing_key == ROUTING_KEY
    ours_decode, pamqp_decode = ours_decoder(), pamqp_decoder()
    assert ours_decode()[1]['delivery_tag'] == 42 and pamqp_decode()[1].delivery_tag == 42
    rows = [
        ('encode a publish (100 B)', best(ours_publish), best(pamqp_publish)),
        ('encode an ack', best(lambda: frames.encode_ack(1, 42)),
         best(lambda: frame.marshal(commands.Basic.Ack(delivery_tag=42), 1))),
        ('decode a delivery (100 B)', best(ours_decode), best(pamqp_decode)),
    ]
    print('%-28s %10s %10s %12s' % ('work per message', 'ours us', 'pamqp us', 'pamqp/ours'))
    for name, ours, theirs in rows:
        print('%-28s %10.2f %10.2f %11.1fx' % (name, ours, theirs, theirs / ours))


if __name__ == '__main__':
    main()
