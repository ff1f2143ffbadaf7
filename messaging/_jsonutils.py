"""JSON encoding of message bodies, with the primitive conversions peers expect.

Datetimes become ``YYYY-MM-DDTHH:MM:SS.ffffff``, sets and tuples lists, UUIDs
and IP addresses strings; anything else left in a message is an error that
names its type, rather than a silent ``repr``.
"""
from __future__ import annotations

import datetime
import decimal
import ipaddress
import json
import uuid
from typing import Any

DATETIME_FORMAT = '%Y-%m-%dT%H:%M:%S.%f'

_STRINGIFIED = (uuid.UUID, ipaddress.IPv4Address, ipaddress.IPv6Address,
                ipaddress.IPv4Network, ipaddress.IPv6Network, decimal.Decimal)


def to_primitive(value: Any, convert_instances: bool = False, _depth: int = 0) -> Any:
    """Convert ``value`` into something ``json.dumps`` accepts.

    :param convert_instances: also convert arbitrary objects through their
        ``__dict__`` (as ``JsonPayloadSerializer`` does).
    :raises ValueError: for a value that has no JSON form.
    """
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if _depth > 100:
        raise ValueError('value nested too deeply to convert to JSON')
    nested = _depth + 1
    if isinstance(value, dict):
        return {str(k) if not isinstance(k, str) else k:
                to_primitive(v, convert_instances, nested) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_primitive(v, convert_instances, nested) for v in value]
    if isinstance(value, datetime.datetime):
        return value.strftime(DATETIME_FORMAT)
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode('utf-8')
    if isinstance(value, _STRINGIFIED):
        return str(value)
    if hasattr(value, 'to_dict'):
        return to_primitive(value.to_dict(), convert_instances, nested)
    if hasattr(value, 'items'):
        return to_primitive(dict(value.items()), convert_instances, nested)
    if hasattr(value, '__iter__'):
        return to_primitive(list(value), convert_instances, nested)
    if convert_instances and hasattr(value, '__dict__'):
        return to_primitive(vars(value), convert_instances, nested)
    raise ValueError('cannot convert a %s to JSON' % type(value).__name__)


def dumps(value: Any) -> str:
    """Encode as JSON, converting non-primitive values first."""
    return json.dumps(value, default=to_primitive)


loads = json.loads
