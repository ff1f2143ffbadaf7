"""frame_reader against py-amqp's own inbound path: the same bytes, fed over
a local TCP connection at awkward boundaries, must give the same frames,
messages, confirms, errors and written replies on an AmqpLink (our reader
and dispatch) and on kombu's py-amqp connection."""
from __future__ import annotations

import socket
import threading
from types import SimpleNamespace

import amqp
import pytest
from amqp import spec
from amqp.basic_message import Message
from amqp.exceptions import UnexpectedFrame
from amqp.method_framing import frame_writer
from amqp.serialization import dumps
from amqp.transport import SSLTransport
from kombu.transport import pyamqp

from messaging.drivers.rabbit.engine import amqp_link

# Small, so that bodies span several frames.
WRITER_FRAME_MAX = 1024
# A read that finds no (more) bytes gives up after this long; after the
# last chunk, after SETTLE (what loopback TCP still carries arrives).
IDLE = 0.002
SETTLE = 0.05


class Link:
    """A py-amqp connection, handshake done, with channel 1 consuming as
    ``ctag``, over TCP to a peer socket that plays the broker; records what
    reaches the consumer and the confirm and return listeners.

    :param lean: an ``AmqpLink`` (else kombu's py-amqp connection).
    :param confirms: listen to channel 1's acks and nacks.
    """

    def __init__(self, lean: bool, confirms: bool = True) -> None:
        listener = socket.create_server(('127.0.0.1', 0))
        accepted: list = []

        def play_broker() -> None:
            peer, _address = listener.accept()
            # Each chunk fed goes out at once, not held back for an ack.
            peer.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            peer.settimeout(5)
            header = b''
            while len(header) < 8:  # b'AMQP\x00\x00\x09\x01'
                header += peer.recv(8 - len(header))
            peer.sendall(HANDSHAKE)
            accepted.append(peer)

        broker = threading.Thread(target=play_broker, daemon=True)
        broker.start()
        connection_cls = amqp_link.AmqpLink if lean else pyamqp.Connection
        self.amqp = connection_cls(host='127.0.0.1:%d' % listener.getsockname()[1],
                                   userid='guest', password='guest', connect_timeout=5)
        try:
            self.amqp.connect()
            broker.join(timeout=5)
        finally:
            listener.close()
        self.peer = accepted[0]
        self.transport = self.amqp.transport
        self.sock = self.transport.sock
        self.channel = self.amqp.channel(1)
        self.events: list = []
        self.channel.basic_consume('q', consumer_tag='ctag',
                                   callback=lambda msg: self.events.append(('deliver', msg)))
        if confirms:
            on_ack, on_nack = (
                lambda tag, multiple, name=name: self.events.append((name, tag, multiple))
                for name in ('basic_ack', 'basic_nack'))
            if lean:
                self.amqp.register_confirms(self.channel, on_ack, on_nack)
            else:
                self.channel.events['basic_ack'].add(on_ack)
                self.channel.events['basic_nack'].add(on_nack)
        self.channel.events['basic_return'].add(
            lambda exc, exchange, key, msg: self.events.append(
                ('return', type(exc), exchange, key, msg)))
        self.written()  # the handshake's answers

    def __enter__(self) -> 'Link':
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def feed(self, data: bytes, chunk: int) -> list:
        """Send ``data`` ``chunk`` bytes at a time, reading after each
        chunk until the socket is idle; return the events and errors."""
        self.sock.settimeout(IDLE)
        for i in range(0, len(data), chunk):
            self.peer.sendall(data[i:i + chunk])
            last = i + chunk >= len(data)
            while True:
                try:
                    self.amqp.drain_events(timeout=SETTLE if last else IDLE)
                except socket.timeout:
                    break
                except Exception as ex:  # compared with py-amqp's, by kind and text
                    self.events.append(('error', type(ex), str(ex)))
        return [_plain(event) for event in self.events]

    def written(self) -> bytes:
        """What the link wrote back (acks, rejects, close-oks)."""
        self.peer.settimeout(IDLE)
        out = b''
        try:
            while True:
                out += self.peer.recv(65536)
        except socket.timeout:
            return out

    def close(self) -> None:
        self.sock.close()
        self.peer.close()


def _plain(event: tuple) -> tuple:
    """An event with its message reduced to everything py-amqp sets on it."""
    *head, last = event
    if isinstance(last, Message):
        last = dict(body=last.body, body_type=type(last.body), properties=last.properties,
                    delivery_info=last.delivery_info, frame_method=last.frame_method,
                    frame_args=last.frame_args, body_size=last.body_size,
                    body_received=last.body_received, ready=last.ready,
                    channel=getattr(last.channel, 'channel_id', None))
    return tuple(head) + (last,)


def frames(*methods: tuple) -> bytes:
    """Frames of ``(channel, method_sig, argsig, args, content)`` methods,
    written by py-amqp's frame writer; ``None`` for a heartbeat."""
    out = bytearray()
    writer = frame_writer(SimpleNamespace(frame_max=WRITER_FRAME_MAX, bytes_sent=0),
                          SimpleNamespace(write=out.extend))
    for method in methods:
        if method is None:
            writer(8, 0, None, None, None)
        else:
            channel, sig, argsig, args, content = method
            writer(1, channel, sig, dumps(argsig, args), content)
    return bytes(out)


# What the peer answers a client's handshake with, all at once: connection
# start, tune and open-ok, then channel 1's open-ok and basic.consume-ok.
HANDSHAKE = frames(
    (0, spec.Connection.Start, 'ooFSS', (0, 9, {}, 'AMQPLAIN PLAIN', 'en_US'), None),
    (0, spec.Connection.Tune, 'BlB', (0, 131072, 0), None),
    (0, spec.Connection.OpenOk, '', (), None),
    (1, spec.Channel.OpenOk, '', (), None),
    (1, spec.Basic.ConsumeOk, 's', ('ctag',), None))


def deliver(tag: int, body: bytes, consumer: str = 'ctag', **properties) -> tuple:
    return (1, spec.Basic.Deliver, 'sLbss', (consumer, tag, tag % 2 == 0, 'ex\u00e9', 'rk.1'),
            Message(body, **properties))


def ack(tag: int, multiple: bool = False, sig: tuple = spec.Basic.Ack) -> tuple:
    return (1, sig, 'Lb', (tag, multiple), None)


JSON = dict(content_type='application/json', content_encoding='utf-8',
            application_headers={'a': 1, 'b': 'x'}, delivery_mode=2, priority=0,
            correlation_id='c1', reply_to='r', expiration='60000', message_id='m',
            timestamp=7, type='t', user_id='guest', app_id='app', cluster_id='cl')

SMALL = frames(deliver(1, b'{"x": 1}', **JSON), ack(1), deliver(2, b''), None)
STREAM = frames(
    deliver(1, b'{"x": 1}', **JSON),
    ack(1),
    deliver(2, b''),                                     # no body frame at all
    None,                                                # heartbeat
    deliver(3, bytes(range(256)) * 20, content_type='application/octet-stream'),
    deliver(4, '\u00e9t\u00e9'.encode() * 700, content_encoding='utf-8'),
    deliver(5, b'\xff\xfe not utf-8', content_encoding='utf-8'),  # stays bytes
    ack(5, True),
    ack(6, False, spec.Basic.Nack),
    deliver(6, b'no consumer', consumer='gone'),         # rejected and requeued
)


def compare(data: bytes, chunk: int) -> tuple[list, list]:
    """The events of an AmqpLink and of kombu's py-amqp connection fed the
    same way."""
    results = []
    for lean in (True, False):
        with Link(lean) as link:
            events = link.feed(data, chunk)
            results.append((events, link.written(), link.amqp.bytes_recv))
    return results[0], results[1]


@pytest.mark.parametrize('chunk', [1, 3, 7, 8, 13])
def test_small_frames_split_anywhere_come_out_as_from_py_amqp(chunk):
    ours, theirs = compare(SMALL, chunk)
    assert ours == theirs
    assert [event[0] for event in ours[0]] == ['deliver', 'basic_ack', 'deliver']


@pytest.mark.parametrize('chunk', [len(STREAM), 1000, 1031, 4093])
def test_deliveries_and_confirms_come_out_as_from_py_amqp(chunk):
    ours, theirs = compare(STREAM, chunk)
    assert ours == theirs
    events, written, _bytes_recv = ours
    assert [event[0] for event in events] == [
        'deliver', 'basic_ack', 'deliver', 'deliver', 'deliver', 'deliver', 'basic_ack',
        'basic_nack']
    assert events[5][-1]['body'] == b'\xff\xfe not utf-8'
    assert events[4][-1]['body'] == '\u00e9t\u00e9' * 700
    assert written  # the reject of the delivery nobody consumes


def test_non_hot_methods_reach_py_amqp_intact():
    returned = (1, spec.Basic.Return, 'Bsss', (312, 'NO_ROUTE', 'ex', 'rk'),
                Message(b'r' * 3000, content_type='text/plain'))
    data = frames(returned, deliver(1, b'after the return'),
                  (1, spec.Channel.Close, 'BsBB', (404, 'NOT_FOUND - no queue', 50, 10), None))
    ours, theirs = compare(data, 50)
    assert ours == theirs
    events, written, _bytes_recv = ours
    no_route = amqp.exceptions.error_for_code(312, '', None, amqp.exceptions.ChannelError)
    assert events[0][:4] == ('return', type(no_route), 'ex', 'rk')
    assert events[0][4]['body'] == b'r' * 3000
    assert events[1][0] == 'deliver' and events[1][1]['body'] == b'after the return'
    # py-amqp answered the channel.close (and reopens the channel).
    assert b'\x00\x14\x00\x29' in written


def test_a_timeout_keeps_the_partial_frame_for_the_next_read():
    with Link(lean=True) as link:
        data = frames(deliver(9, b'z' * 5000))
        link.sock.settimeout(IDLE)
        link.peer.sendall(data[:10])
        with pytest.raises(socket.timeout):
            link.transport.read_frame()
        link.peer.sendall(data[10:])
        frame_type, channel, payload = link.transport.read_frame()
        assert (frame_type, channel) == (1, 1)
        assert payload[:4] == b'\x00\x3c\x00\x3c'


def test_a_delivery_interrupted_by_a_timeout_completes_on_the_next_drain():
    with Link(lean=True) as link:
        data = frames(deliver(9, b'z' * 5000))
        link.sock.settimeout(IDLE)
        link.peer.sendall(data[:-300])
        with pytest.raises(socket.timeout):
            link.amqp.drain_events(timeout=IDLE)
        assert link.events == []
        link.peer.sendall(data[-300:])
        link.amqp.drain_events(timeout=IDLE)
        assert link.events[0][1].body == b'z' * 5000


@pytest.mark.parametrize('lean', [True, False])
def test_eof_raises_and_marks_the_transport_disconnected(lean):
    link = Link(lean)
    try:
        link.peer.sendall(frames(ack(1))[:5])
        link.peer.close()
        with pytest.raises(OSError, match='Server unexpectedly closed connection'):
            link.amqp.drain_events(timeout=1)
        assert link.transport.connected is False
    finally:
        link.sock.close()


@pytest.mark.parametrize('lean', [True, False])
def test_a_bad_frame_end_raises_unexpected_frame(lean):
    with Link(lean) as link:
        link.peer.sendall(frames(ack(1))[:-1] + b'\x00')
        with pytest.raises(UnexpectedFrame, match='frame_end 0x00'):
            link.amqp.drain_events(timeout=1)


def test_frames_larger_than_the_buffer_are_read_whole():
    with Link(lean=True) as link:
        payload = bytes(range(256)) * 1000  # 256000 bytes, beyond BUFFER_SIZE
        data = (b'\x03\x00\x01' + len(payload).to_bytes(4, 'big') + payload + b'\xce') * 2
        link.sock.settimeout(5)
        # More than the socketpair holds: sent while we read.
        sender = threading.Thread(target=link.peer.sendall, args=(data,))
        sender.start()
        try:
            assert link.transport.read_frame() == (3, 1, payload)
            assert link.transport.read_frame() == (3, 1, payload)
        finally:
            sender.join(timeout=5)


def test_a_wait_with_another_timeout_restores_the_socket_timeout():
    with Link(lean=True) as link:
        link.sock.settimeout(5.0)
        with pytest.raises(socket.timeout):
            link.amqp.drain_events(timeout=IDLE)
        assert link.sock.gettimeout() == 5.0


def test_a_channel_without_registered_confirms_leaves_them_to_py_amqp():
    with Link(lean=True, confirms=False) as link:
        link.sock.settimeout(1)
        link.peer.sendall(frames(ack(3, True)))
        assert link.channel.wait(spec.Basic.Ack, returns_tuple=True) == (3, True)


def test_a_consumer_is_registered_until_the_broker_confirms_its_cancel():
    with Link(lean=True) as link:
        assert link.amqp.consumers[(1, 'ctag')][0] is link.channel
        link.sock.settimeout(1)
        # A delivery still in flight when the cancel is sent is delivered.
        link.peer.sendall(frames(deliver(1, b'in flight'),
                                 (1, spec.Basic.CancelOk, 's', ('ctag',), None)))
        link.channel.basic_cancel('ctag')
        assert (1, 'ctag') not in link.amqp.consumers
        assert [event[0] for event in link.events] == ['deliver']


def test_tls_keeps_py_amqps_transport_and_plain_tcp_gets_ours():
    link = amqp_link.AmqpLink(host='127.0.0.1:1')
    assert isinstance(link.Transport('127.0.0.1:1', 1, ssl=True), SSLTransport)
    assert type(link.Transport('127.0.0.1:1', 1)) is amqp_link.LinkTransport


def test_a_closed_connection_has_no_buffered_frame():
    # py-amqp drops the transport on close; a reader may ask just after
    # another thread reset the link.
    closed = SimpleNamespace(transport=None)
    assert amqp_link.has_buffered_frame(closed) is False


def test_has_buffered_frame_tells_a_whole_frame_from_a_part_of_one():
    data = frames(deliver(1, b'x' * 10), deliver(2, b'y'))
    with Link(lean=True) as link:
        assert amqp_link.has_buffered_frame(link.amqp) is False
        link.peer.sendall(data)
        link.sock.settimeout(1)
        link.amqp.blocking_read(1)  # one frame read: the others wait in the buffer
        assert amqp_link.has_buffered_frame(link.amqp) is True
        link.sock.settimeout(IDLE)
        while amqp_link.has_buffered_frame(link.amqp):
            link.amqp.blocking_read(IDLE)
        assert [event[0] for event in link.events] == ['deliver', 'deliver']
        # Half a frame is not a frame: reading it would wait on the socket.
        half = frames(deliver(3, b'z'))
        link.peer.sendall(half[:5])
        with pytest.raises(socket.timeout):
            link.amqp.blocking_read(IDLE)
        assert amqp_link.has_buffered_frame(link.amqp) is False


def test_has_buffered_frame_is_unknown_on_py_amqps_own_path():
    with Link(lean=False) as link:
        assert amqp_link.has_buffered_frame(link.amqp) is None
