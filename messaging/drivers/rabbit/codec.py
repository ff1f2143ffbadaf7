"""Message bodies on the wire: JSON encoding, optional compression, and the
checks a received body must pass (WIRE.md §2)."""
from __future__ import annotations

import bz2
import json
import zlib
from typing import Any, Optional

from kombu.utils import json as kombu_json

from messaging import wire

CONTENT_TYPE = 'application/json'
# kombu's JSON writes datetimes, UUIDs and decimals left in a body (v1
# notifications carry them) as {"__type__": ..., "__value__": ...} markers
# and reads them back; oslo peers use it, so we do too.
_KOMBU_MARKER = '"__type__"'
CONTENT_ENCODING = 'utf-8'
_ACCEPTED_ENCODINGS = ('utf-8', 'binary')
_COMPRESSORS = {
    'gzip': ('application/x-gzip', zlib.compress),
    'bz2': ('application/x-bz2', bz2.compress),
    'bzip2': ('application/x-bz2', bz2.compress),
}
# Incremental decompressors, so that a body can be inflated only so far.
_DECOMPRESSORS = {'application/x-gzip': zlib.decompressobj,
                  'application/x-bz2': bz2.BZ2Decompressor}


class Codec:
    """Turns message dicts into body bytes and headers, and back.

    :param compression: ``kombu_compression`` (None, gzip, bz2 or bzip2).
    :param max_message_size: ``max_message_size``: the largest body, in
        bytes after decompression, that :meth:`decode` accepts; 0 = any.
    """

    def __init__(self, compression: Optional[str] = None, max_message_size: int = 0) -> None:
        if compression and compression not in _COMPRESSORS:
            raise ValueError('kombu_compression=%r is not one of %s'
                             % (compression, ', '.join(sorted(_COMPRESSORS))))
        self._compressor = _COMPRESSORS.get(compression) if compression else None
        self.max_message_size = max_message_size

    def encode(self, body: dict) -> tuple[bytes, dict]:
        """The body bytes and the application headers to publish with them."""
        data = kombu_json.dumps(body).encode(CONTENT_ENCODING)
        if self._compressor is None:
            return data, {}
        header, compress = self._compressor
        return compress(data), {'compression': header}

    def decode(self, raw: Any) -> dict:
        """:func:`decode` with this codec's size limit."""
        return decode(raw, self.max_message_size)


def decode(raw: Any, max_size: int = 0) -> dict:
    """The message dict carried by a received AMQP message.

    The body must be ``application/json`` in UTF-8 (or ``binary``), at most
    ``max_size`` bytes once decompressed (0 = no limit), and nested no
    deeper than ``wire.MAX_DEPTH``, so that nothing downstream (loggers,
    serializers, a reply's encoder) can hit the recursion limit.

    :raises wire.MalformedMessage: wrong content type or encoding, an
        unknown compression, a body too large, invalid UTF-8 or JSON, JSON
        nested too deeply, or a bad envelope.
    """
    properties = raw.properties
    content_type = properties.get('content_type')
    if content_type != CONTENT_TYPE:
        raise wire.MalformedMessage('content type %s is not %s'
                                    % (wire.shorten(content_type), CONTENT_TYPE))
    encoding = properties.get('content_encoding') or CONTENT_ENCODING
    if encoding not in _ACCEPTED_ENCODINGS:
        raise wire.MalformedMessage('content encoding %s is not supported'
                                    % wire.shorten(encoding))
    data = raw.body
    if max_size and len(data) > max_size:
        raise _too_large('%d' % len(data), max_size)
    headers = properties.get('application_headers')
    compression = headers.get('compression') if isinstance(headers, dict) else None
    if compression:
        data = _decompress(data, compression, max_size)
    try:
        text = data.decode(CONTENT_ENCODING) if isinstance(data, bytes) else data
        # The marker-aware decoder costs an object hook per dict: use it
        # only for the bodies that can need it.
        body = kombu_json.loads(text) if _KOMBU_MARKER in text else json.loads(text)
    except (ValueError, RecursionError) as ex:
        # UnicodeDecodeError is a ValueError; RecursionError means JSON
        # nested deeper than the interpreter allows.
        raise wire.MalformedMessage('body is not valid JSON in UTF-8: %.200s'
                                    % ex) from None
    except (TypeError, AttributeError) as ex:
        # A kombu marker whose value its decoder cannot take, e.g.
        # {"__type__": "datetime", "__value__": 5}.
        raise wire.MalformedMessage('body has a type marker that does not decode: '
                                    '%.200s' % ex) from None
    message = wire.deserialize_msg(body)
    if wire.may_nest_deeper(text):
        wire.check_depth(message)
    return message


def _too_large(size: str, max_size: int) -> wire.MalformedMessage:
    return wire.MalformedMessage(
        'body of %s bytes is over max_message_size (%d bytes) of '
        '[oslo_messaging_rabbit]; raise that option if such messages are legitimate'
        % (size, max_size))


def _decompress(data: bytes, compression: Any, max_size: int) -> bytes:
    """``data`` decompressed, never past ``max_size`` bytes (0 = no limit)."""
    factory = _DECOMPRESSORS.get(compression) if isinstance(compression, str) else None
    if factory is None:
        raise wire.MalformedMessage('unknown compression %s' % wire.shorten(compression))
    decompressor = factory()
    try:
        # One byte over the limit is enough to know the body is too large,
        # without inflating a compression bomb any further.
        out = (decompressor.decompress(data, max_size + 1) if max_size
               else decompressor.decompress(data))
        finished = decompressor.eof
    except (OSError, ValueError, EOFError, zlib.error) as ex:
        raise wire.MalformedMessage('cannot decompress body: %s' % ex) from None
    if max_size and len(out) > max_size:
        raise _too_large('more than %d' % max_size, max_size)
    if not finished:
        raise wire.MalformedMessage('cannot decompress body: it is truncated')
    return out
