"""Message bodies on the wire: JSON encoding, optional compression, and the
checks a received body must pass (WIRE.md §2)."""
from __future__ import annotations

import bz2
import json
import zlib
from typing import Any, Optional

from messaging.drivers import common

CONTENT_TYPE = 'application/json'
CONTENT_ENCODING = 'utf-8'
_ACCEPTED_ENCODINGS = ('utf-8', 'binary')
_COMPRESSORS = {
    'gzip': ('application/x-gzip', zlib.compress),
    'bz2': ('application/x-bz2', bz2.compress),
    'bzip2': ('application/x-bz2', bz2.compress),
}
_DECOMPRESSORS = {'application/x-gzip': zlib.decompress,
                  'application/x-bz2': bz2.decompress}


class Codec:
    """Turns message dicts into body bytes and headers, and back."""

    def __init__(self, compression: Optional[str] = None) -> None:
        if compression and compression not in _COMPRESSORS:
            raise ValueError('kombu_compression=%r is not one of %s'
                             % (compression, ', '.join(sorted(_COMPRESSORS))))
        self._compressor = _COMPRESSORS.get(compression) if compression else None

    def encode(self, body: dict) -> tuple[bytes, dict]:
        """The body bytes and the application headers to publish with them."""
        data = json.dumps(body).encode(CONTENT_ENCODING)
        if self._compressor is None:
            return data, {}
        header, compress = self._compressor
        return compress(data), {'compression': header}


def decode(raw: Any) -> dict:
    """The message dict carried by a received AMQP message.

    :raises common.MalformedMessage: wrong content type or encoding, an
        unknown compression, invalid JSON, or a bad envelope.
    """
    properties = raw.properties
    content_type = properties.get('content_type')
    if content_type != CONTENT_TYPE:
        raise common.MalformedMessage('content type %r is not %s'
                                      % (content_type, CONTENT_TYPE))
    encoding = properties.get('content_encoding') or CONTENT_ENCODING
    if encoding not in _ACCEPTED_ENCODINGS:
        raise common.MalformedMessage('content encoding %r is not supported' % encoding)
    data = raw.body
    compression = (properties.get('application_headers') or {}).get('compression')
    if compression:
        decompress = _DECOMPRESSORS.get(compression)
        if decompress is None:
            raise common.MalformedMessage('unknown compression %r' % compression)
        try:
            data = decompress(data)
        except (OSError, ValueError, zlib.error) as ex:
            raise common.MalformedMessage('cannot decompress body: %s' % ex) from None
    try:
        body = json.loads(data)
    except (ValueError, RecursionError) as ex:
        raise common.MalformedMessage('body is not valid JSON: %s' % ex) from None
    return common.deserialize_msg(body)
