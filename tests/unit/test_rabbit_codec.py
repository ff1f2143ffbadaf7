"""Body encoding and the checks every received body must pass."""
from __future__ import annotations

import datetime
import json
import zlib

import pytest

from messaging import wire
from messaging.drivers.rabbit import codec
from tests.unit.test_security_decode import Raw


def test_plain_encoding_is_json_with_no_headers():
    data, headers = codec.Codec().encode({'a': 'é'})
    assert data == b'{"a": "\\u00e9"}' and headers == {}


def test_gzip_is_a_zlib_stream_with_the_oslo_header_and_decodes_back():
    envelope = wire.serialize_msg({'method': 'm', 'args': {}})
    data, headers = codec.Codec('gzip').encode(envelope)
    assert data[:2] == b'\x78\x9c' and headers == {'compression': 'application/x-gzip'}
    assert codec.decode(Raw(data, headers=headers)) == {'method': 'm', 'args': {}}


def test_unknown_compression_option_is_refused():
    with pytest.raises(ValueError, match='kombu_compression'):
        codec.Codec('lz4')


def test_unenveloped_bodies_and_binary_encoding_are_accepted():
    body = json.dumps({'result': 1, 'ending': True}).encode()
    assert codec.decode(Raw(body, encoding='binary')) == {'result': 1, 'ending': True}


@pytest.mark.parametrize('raw, reason', [
    (Raw(b'{}', content_type='text/plain'), 'content type'),
    (Raw(b'{}', content_type=None), 'content type'),
    (Raw(b'{}', encoding='latin-1'), 'encoding'),
    (Raw(b'{nope'), 'not valid JSON'),
    (Raw(b'[1]'), 'not a JSON object'),
    (Raw(b'{}', headers={'compression': 'application/x-rar'}), 'unknown compression'),
    (Raw(zlib.compress(b'{}')[:-3], headers={'compression': 'application/x-gzip'}),
     'decompress'),
])
def test_bad_bodies_raise_malformed_message(raw, reason):
    with pytest.raises(wire.MalformedMessage, match=reason):
        codec.decode(raw)


def test_a_datetime_left_in_a_body_travels_as_a_kombu_marker_and_comes_back():
    # v1 notifications are not enveloped, so a datetime in their payload is
    # written the way oslo's kombu encoder writes it (WIRE.md 2.2).
    when = datetime.datetime(2024, 1, 2, 3, 4, 5)
    data, _ = codec.Codec().encode({'payload': {'when': when}})
    assert json.loads(data) == {'payload': {'when': {'__type__': 'datetime',
                                                     '__value__': '2024-01-02T03:04:05'}}}
    assert codec.decode(Raw(data)) == {'payload': {'when': when}}


def test_a_string_that_merely_mentions_the_marker_key_stays_a_string():
    data, _ = codec.Codec().encode({'payload': {'text': '"__type__"'}})
    assert codec.decode(Raw(data)) == {'payload': {'text': '"__type__"'}}


@pytest.mark.parametrize('marker', [
    {'__type__': 'datetime', '__value__': 5},
    {'__type__': 'uuid', '__value__': 'not a mapping'},
    {'__type__': 'bytes', '__value__': 5},
    {'__type__': 'base64', '__value__': 'not base64!'},
    {'__type__': 'decimal', '__value__': {}},
    {'__type__': 'no-such-type', '__value__': 1},
])
def test_a_type_marker_that_does_not_decode_is_a_malformed_message(marker):
    # Anything a publisher writes must end as a message or MalformedMessage,
    # which the listeners reject; any other exception stalls their poll loop.
    with pytest.raises(wire.MalformedMessage):
        codec.decode(Raw(json.dumps({'payload': {'when': marker}}).encode()))
