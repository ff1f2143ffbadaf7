"""The receive path's decoding on hostile input: rabbit codec.decode, the
envelope, context unpacking and notification checks.

Anything a publisher can put in a body or its properties must end in a
message dict or in ``MalformedMessage`` (the one exception the listeners
catch), never in another exception, a RecursionError or unbounded memory.
"""
from __future__ import annotations

import bz2
import json
import time
import zlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from messaging import wire
from messaging.drivers.rabbit import codec

MiB = 1024 * 1024


class Raw:
    """The parts of a py-amqp message that decode reads."""

    def __init__(self, body, content_type='application/json', encoding='utf-8',
                 headers=None):
        self.body = body
        self.properties = {'content_type': content_type, 'content_encoding': encoding,
                           'application_headers': {} if headers is None else headers}


json_scalars = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
                | st.text(max_size=20))
json_values = st.recursive(
    json_scalars, lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=10), inner, max_size=4), max_leaves=20)
# Keys the decoder and unpacker look at, with any value at all.
request_keys = st.sampled_from(['method', 'args', '_msg_id', '_reply_q', '_timeout',
                                '_unique_id', '_context_user', 'priority', 'event_type',
                                'message_id', 'oslo.version', 'oslo.message', 'x'])
messages = st.dictionaries(request_keys | st.text(max_size=12), json_values, max_size=8)
envelopes = st.builds(lambda version, inner: {'oslo.version': version, 'oslo.message': inner},
                      st.sampled_from(['2.0', '2.1', '3.0', '', '2']) | json_values,
                      st.builds(json.dumps, messages | json_values) | json_values)
json_bodies = st.builds(lambda v: json.dumps(v).encode(), json_values | messages | envelopes)
bodies = json_bodies | st.binary(max_size=200) | st.sampled_from([
    b'[' * 100000, b'{"a":' * 100000, b'\xff\xfe{\x00}\x00', b'{"a": "\xc3\x28"}',
    b'{"a": NaN}', b'1' * 5000, b'{"oslo.version": "2.0", "oslo.message": "' + b'[' * 5000
    + b'"}'])


def compressed(data, how):
    if how == 'application/x-gzip':
        return zlib.compress(data)
    if how == 'application/x-bz2':
        return bz2.compress(data)
    return data


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(bodies,
       st.sampled_from(['application/json', 'text/plain', '', None, 'application/json; x']),
       st.sampled_from(['utf-8', 'binary', None, '', 'latin-1', 'utf-16']),
       st.sampled_from([None, 'application/x-gzip', 'application/x-bz2', 'application/x-rar',
                        3, ['application/x-gzip']]),
       st.sampled_from([{}, None, 'headers', ['compression']]),
       st.sampled_from([0, 64, 10 * MiB]))
def test_decode_yields_a_dict_or_malformed_message(body, content_type, encoding, compression,
                                                   headers, max_size):
    if compression is not None:
        headers = {'compression': compression}
        body = compressed(body, compression)
    try:
        message = codec.decode(Raw(body, content_type, encoding, headers), max_size)
    except wire.MalformedMessage as ex:
        # Error texts are bounded: they end up in log lines.
        assert len(str(ex)) < 1000
        return
    assert isinstance(message, dict)
    wire.check_depth(message)


@given(messages)
def test_unpack_context_returns_valid_call_fields_or_malformed_message(message):
    try:
        ctxt, msg_id, reply_q = wire.unpack_context(dict(message))
    except wire.MalformedMessage:
        return
    assert isinstance(ctxt, dict) and 'client_timeout' in ctxt
    if msg_id is not None:
        assert isinstance(msg_id, str) and isinstance(reply_q, str) and reply_q


@given(messages)
def test_check_notification_passes_only_string_priority_and_event_type(message):
    try:
        wire.check_notification(message)
    except wire.MalformedMessage:
        assert not (isinstance(message.get('priority'), str)
                    and isinstance(message.get('event_type'), str))
        return
    assert isinstance(message['priority'], str) and isinstance(message['event_type'], str)


# --- each hostile input, named --------------------------------------------------

def request(**fields):
    return json.dumps(wire.serialize_msg(
        dict({'method': 'm', 'args': {}, '_unique_id': 'u' * 32}, **fields))).encode()


@pytest.mark.parametrize('raw, reason', [
    (Raw(b'not json at all'), 'not valid JSON'),
    (Raw(b'["a", "list"]'), 'not a JSON object'),
    (Raw(b'"just a string"'), 'not a JSON object'),
    (Raw(json.dumps({'oslo.version': '2.0', 'oslo.message': '{nope'}).encode()),
     'envelope field oslo.message is not valid JSON'),
    (Raw(json.dumps({'oslo.version': '2.0', 'oslo.message': '[1]'}).encode()),
     'enveloped message is a list'),
    (Raw(json.dumps({'oslo.version': '3.0', 'oslo.message': '{}'}).encode()),
     "envelope version '3.0' is not supported"),
    (Raw(b'{"method": "m\xff\xfe"}'), 'not valid JSON in UTF-8'),
    (Raw('{"method": "m"}'.encode('utf-16')), 'not valid JSON in UTF-8'),
    (Raw(b'{}', content_type='text/plain'), "content type 'text/plain'"),
    (Raw(b'{}', content_type=None), 'content type None'),
    (Raw(b'{}', encoding='x' * 10000), 'content encoding'),
])
def test_hostile_bodies_are_malformed_messages_with_a_reason(raw, reason):
    with pytest.raises(wire.MalformedMessage, match=reason) as failure:
        codec.decode(raw)
    assert len(str(failure.value)) < 1000


@pytest.mark.parametrize('depth', [100000, 5000, 990, wire.MAX_DEPTH + 1])
@pytest.mark.parametrize('where', ['body', 'envelope', 'args'])
def test_json_nested_too_deeply_is_malformed_not_a_recursion_error(depth, where):
    nested = '[' * depth + ']' * depth
    if where == 'body':
        data = ('{"a": %s}' % nested).encode()
    elif where == 'envelope':
        data = json.dumps({'oslo.version': '2.0', 'oslo.message': '{"a": %s}' % nested}
                          ).encode()
    else:
        data = request(args={'x': json.loads(nested) if depth < 900 else None})
        if depth >= 900:
            data = data.replace(b'null', nested.replace('"', '\\"').encode())
    with pytest.raises(wire.MalformedMessage, match='deeper|not valid JSON'):
        codec.decode(Raw(data))


def test_nesting_up_to_the_limit_is_accepted():
    inner = json.loads('[' * (wire.MAX_DEPTH - 2) + ']' * (wire.MAX_DEPTH - 2))
    message = codec.decode(Raw(request(args={'x': inner})))
    assert message['args']['x'] == inner


def test_many_shallow_containers_are_not_mistaken_for_deep_ones():
    wide = [{'k': [i]} for i in range(5 * wire.MAX_DEPTH)]
    assert codec.decode(Raw(request(args={'x': wide})))['args']['x'] == wide


def test_a_body_over_max_message_size_is_refused_unparsed():
    data = request(args={'blob': 'x' * 2000})
    assert codec.decode(Raw(data), max_size=len(data))['args']['blob'] == 'x' * 2000
    with pytest.raises(wire.MalformedMessage, match='over max_message_size .1000 bytes.'):
        codec.decode(Raw(data), max_size=1000)


@pytest.mark.parametrize('how', ['application/x-gzip', 'application/x-bz2'])
def test_a_compression_bomb_is_refused_without_inflating_it(how):
    # 512 MiB of spaces compress to well under a megabyte.
    block = b' ' * MiB
    compressor = zlib.compressobj() if 'gzip' in how else bz2.BZ2Compressor()
    data = b''.join(compressor.compress(block) for _ in range(512)) + compressor.flush()
    assert len(data) < MiB
    started = time.monotonic()
    with pytest.raises(wire.MalformedMessage, match='over max_message_size'):
        codec.decode(Raw(data, headers={'compression': how}), max_size=MiB)
    assert time.monotonic() - started < 5


def test_a_compressed_body_under_the_limit_decodes():
    data = request(args={'a': 1})
    assert codec.decode(Raw(zlib.compress(data), headers={'compression': 'application/x-gzip'}),
                        max_size=len(data))['args'] == {'a': 1}


def test_a_truncated_compressed_body_is_malformed():
    data = zlib.compress(request())[:-6]
    with pytest.raises(wire.MalformedMessage, match='truncated|decompress'):
        codec.decode(Raw(data, headers={'compression': 'application/x-gzip'}))


def test_codec_applies_its_configured_limit():
    data = request(args={'blob': 'x' * 100})
    assert codec.Codec(max_message_size=0).decode(Raw(data))['args'] == {'blob': 'x' * 100}
    with pytest.raises(wire.MalformedMessage, match='max_message_size'):
        codec.Codec(max_message_size=50).decode(Raw(data))


@pytest.mark.parametrize('fields, reason', [
    ({'_msg_id': 5, '_reply_q': 'reply_x'}, '_msg_id is a int'),
    ({'_msg_id': ['a'], '_reply_q': 'reply_x'}, '_msg_id is a list'),
    ({'_msg_id': 'a' * 32}, 'no usable _reply_q'),
    ({'_msg_id': 'a' * 32, '_reply_q': 7}, 'no usable _reply_q'),
    ({'_msg_id': 'a' * 32, '_reply_q': ''}, 'no usable _reply_q'),
    ({'_msg_id': 'a' * 32, '_reply_q': 'q' * 256}, 'no usable _reply_q'),
    ({'_msg_id': 'a' * 32, '_reply_q': {'q': 1}}, 'no usable _reply_q'),
])
def test_call_fields_that_cannot_be_answered_are_malformed(fields, reason):
    with pytest.raises(wire.MalformedMessage, match=reason) as failure:
        wire.unpack_context(dict({'method': 'm'}, **fields))
    assert len(str(failure.value)) < 400


def test_a_cast_needs_no_reply_queue():
    assert wire.unpack_context({'method': 'm', '_reply_q': 5})[1:] == (None, 5)


@pytest.mark.parametrize('message', [
    {'priority': 'INFO'}, {'event_type': 'e'}, {'priority': 1, 'event_type': 'e'},
    {'priority': 'INFO', 'event_type': ['e']},
])
def test_notification_without_string_priority_and_event_type_is_malformed(message):
    with pytest.raises(wire.MalformedMessage, match='notification (priority|event_type)'):
        wire.check_notification(message)


@pytest.mark.parametrize('value', ['x' * 10 ** 6, ['a'] * 10 ** 5, '\n\x1b[31mforged\n',
                                   '\ud800', {'k': {'k': {'k': {'k': 1}}}}])
def test_shorten_bounds_and_escapes_what_it_prints(value):
    text = wire.shorten(value)
    assert len(text) < 200 and '\n' not in text and '\x1b' not in text
    text.encode('utf-8')  # no lone surrogate left to break a log handler


def depth(value):
    """Nesting depth of lists and objects, the obvious recursive way."""
    children = value.values() if isinstance(value, dict) else value
    if not isinstance(value, (dict, list)):
        return 0
    return 1 + max((depth(child) for child in children), default=0)


@given(json_values, st.integers(min_value=1, max_value=6))
def test_check_depth_refuses_exactly_what_nests_deeper_than_the_limit(value, limit):
    too_deep = depth(value) > limit
    try:
        wire.check_depth(value, limit)
    except wire.MalformedMessage:
        assert too_deep
        return
    assert not too_deep


@given(json_values, st.integers(min_value=0, max_value=8))
def test_may_nest_deeper_never_misses_a_deeper_message(value, limit):
    if depth(value) > limit:
        assert wire.may_nest_deeper(json.dumps(value), limit)
