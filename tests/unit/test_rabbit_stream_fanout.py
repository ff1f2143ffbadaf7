"""StreamCursor: where a server reads its topic's fanout stream from."""
from __future__ import annotations

from types import SimpleNamespace

from messaging.drivers.rabbit.stream_fanout import StreamCursor


def delivery(offset):
    return SimpleNamespace(properties={'application_headers': {'x-stream-offset': offset}})


def test_a_new_server_reads_from_the_tail():
    assert StreamCursor('t_fanout').consumer_arguments() == {'x-stream-offset': 'next'}


def test_after_a_handled_delivery_it_resumes_at_the_next_offset():
    cursor = StreamCursor('t_fanout')
    cursor.handled(delivery(41))
    cursor.handled(SimpleNamespace(properties={}))
    assert cursor.consumer_arguments() == {'x-stream-offset': 42}


def test_a_cancelled_consumer_reads_the_new_stream_from_its_tail():
    cursor = StreamCursor('t_fanout')
    cursor.handled(delivery(7))
    cursor.cancelled()
    assert cursor.consumer_arguments() == {'x-stream-offset': 'next'}


def test_deliveries_taken_out_of_order_never_move_the_cursor_back():
    cursor = StreamCursor('t_fanout')
    cursor.handled(delivery(9))
    cursor.handled(delivery(8))
    assert cursor.consumer_arguments() == {'x-stream-offset': 10}
