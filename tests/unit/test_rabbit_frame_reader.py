"""frame_reader against py-amqp's own inbound path: the same bytes, fed over
socketpairs at awkward boundaries, must give the same frames, messages,
confirms, errors and written replies on a patched and an unpatched link."""
from __future__ import annotations

import socket
import threading
from types import SimpleNamespace

import amqp
import pytest
from amqp import spec
from amqp.basic_message import Message
from amqp.exceptions import UnexpectedFrame
from amqp.method_framing import frame_handler, frame_writer
from amqp.serialization import dumps
from amqp.transport import TCPTransport

from messaging.drivers.rabbit import frame_reader

# Small, so that bodies span several frames.
WRITER_FRAME_MAX = 1024
# A read that finds no (more) bytes gives up after this long.
IDLE = 0.002


class Link:
    """A py-amqp connection with channel 1 over one end of a socketpair,
    recording what reaches consumers and confirm listeners."""

    def __init__(self, patched: bool) -> None:
        self.sock, self.peer = socket.socketpair()
        transport = TCPTransport('127.0.0.1:5672')
        transport.sock = self.sock
        transport._setup_transport()
        transport.connected = True
        self.transport = transport
        self.amqp = amqp.Connection()
        self.amqp.transport = transport
        self.amqp.on_inbound_frame = frame_handler(self.amqp, self.amqp.on_inbound_method)
        self.amqp.frame_writer = frame_writer(self.amqp, transport)
        self.channel = amqp.Channel(self.amqp, 1)
        self.events: list = []
        self.channel.callbacks['ctag'] = lambda msg: self.events.append(('deliver', msg))
        for name in ('basic_ack', 'basic_nack'):
            self.channel.events[name].add(
                lambda tag, multiple, name=name: self.events.append((name, tag, multiple)))
        self.channel.events['basic_return'].add(
            lambda exc, exchange, key, msg: self.events.append(
                ('return', type(exc), exchange, key, msg)))
        if patched:
            frame_reader.install(self.amqp)
            assert isinstance(transport.read_frame.__self__, frame_reader.FrameReader)

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
            while True:
                try:
                    self.amqp.drain_events(timeout=IDLE)
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
                    pending_chunks=last._pending_chunks,
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
    """The events of a patched and an unpatched link fed the same way."""
    results = []
    for patched in (True, False):
        with Link(patched) as link:
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
    with Link(patched=True) as link:
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
    with Link(patched=True) as link:
        data = frames(deliver(9, b'z' * 5000))
        link.sock.settimeout(IDLE)
        link.peer.sendall(data[:-300])
        with pytest.raises(socket.timeout):
            link.amqp.drain_events(timeout=IDLE)
        assert link.events == []
        link.peer.sendall(data[-300:])
        link.amqp.drain_events(timeout=IDLE)
        assert link.events[0][1].body == b'z' * 5000


@pytest.mark.parametrize('patched', [True, False])
def test_eof_raises_and_marks_the_transport_disconnected(patched):
    link = Link(patched)
    try:
        link.peer.sendall(frames(ack(1))[:5])
        link.peer.close()
        with pytest.raises(OSError, match='Server unexpectedly closed connection'):
            link.amqp.drain_events(timeout=1)
        assert link.transport.connected is False
    finally:
        link.sock.close()


@pytest.mark.parametrize('patched', [True, False])
def test_a_bad_frame_end_raises_unexpected_frame(patched):
    with Link(patched) as link:
        link.peer.sendall(frames(ack(1))[:-1] + b'\x00')
        with pytest.raises(UnexpectedFrame, match='frame_end 0x00'):
            link.amqp.drain_events(timeout=1)


def test_frames_larger_than_the_buffer_are_read_whole():
    with Link(patched=True) as link:
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


def test_bytes_py_amqp_read_ahead_are_taken_over_at_install():
    with Link(patched=False) as link:
        data = frames(ack(1), ack(2))
        link.transport._read_buffer = data[:9]
        frame_reader.install(link.amqp)
        link.peer.sendall(data[9:])
        link.sock.settimeout(1)
        link.amqp.drain_events(timeout=1)
        link.amqp.drain_events(timeout=1)
        assert link.events == [('basic_ack', 1, False), ('basic_ack', 2, False)]


def test_a_wait_with_another_timeout_restores_the_socket_timeout():
    with Link(patched=True) as link:
        link.sock.settimeout(5.0)
        with pytest.raises(socket.timeout):
            link.amqp.drain_events(timeout=IDLE)
        assert link.sock.gettimeout() == 5.0


def test_a_synchronous_wait_for_a_confirm_is_served_by_py_amqp():
    with Link(patched=True) as link:
        link.sock.settimeout(1)
        link.peer.sendall(frames(ack(3, True)))
        assert link.channel.wait(spec.Basic.Ack, returns_tuple=True) == (3, True)
        assert link.events == [('basic_ack', 3, True)]


def test_tls_transports_keep_py_amqp_reading():
    with Link(patched=False) as link:
        link.amqp.transport = SimpleNamespace(sock=link.sock)
        frame_reader.install(link.amqp)
        assert 'blocking_read' not in vars(link.amqp)


def test_has_buffered_frame_tells_a_whole_frame_from_a_part_of_one():
    data = frames(deliver(1, b'x' * 10), deliver(2, b'y'))
    with Link(patched=True) as link:
        assert frame_reader.has_buffered_frame(link.amqp) is False
        link.peer.sendall(data)
        link.sock.settimeout(1)
        link.amqp.blocking_read(1)  # one frame read: the others wait in the buffer
        assert frame_reader.has_buffered_frame(link.amqp) is True
        link.sock.settimeout(IDLE)
        while frame_reader.has_buffered_frame(link.amqp):
            link.amqp.blocking_read(IDLE)
        assert [event[0] for event in link.events] == ['deliver', 'deliver']
        # Half a frame is not a frame: reading it would wait on the socket.
        half = frames(deliver(3, b'z'))
        link.peer.sendall(half[:5])
        with pytest.raises(socket.timeout):
            link.amqp.blocking_read(IDLE)
        assert frame_reader.has_buffered_frame(link.amqp) is False


def test_has_buffered_frame_is_unknown_on_py_amqps_own_path():
    with Link(patched=False) as link:
        assert frame_reader.has_buffered_frame(link.amqp) is None
