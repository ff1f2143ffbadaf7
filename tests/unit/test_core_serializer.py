"""Serializers (the JSON conversion itself is oslo.serialization's, proved the same as
oslo.messaging's in tests/sameanswer/test_sameanswer_payloads.py)."""
import datetime
import json

from unittest import mock

import pytest

import messaging
from messaging import serializer as serializer_mod


class Thing:
    def __init__(self):
        self.name = 'thing'
        self.when = datetime.datetime(2024, 1, 2, 3, 4, 5)
        self.tags = {'a'}


class WithToDict:
    def to_dict(self):
        return {'k': (1, 2)}


class Opaque:
    __slots__ = ()


def test_noop_serializer_passes_everything_through():
    ser = messaging.NoOpSerializer()
    value, ctxt = object(), {'user': 'u'}
    assert ser.serialize_entity(ctxt, value) is value
    assert ser.deserialize_entity(ctxt, value) is value
    assert ser.serialize_context(ctxt) is ctxt
    assert ser.deserialize_context(ctxt) is ctxt


def test_serializer_base_is_abstract():
    with pytest.raises(TypeError):
        messaging.Serializer()


def test_json_payload_serializer_converts_datetimes_sets_and_objects():
    ser = messaging.JsonPayloadSerializer()
    result = ser.serialize_entity({}, {'when': datetime.datetime(2024, 1, 2, 3, 4, 5, 6),
                                       'tags': {'x'}, 'pair': (1, 2), 'thing': Thing()})
    assert result == {'when': '2024-01-02T03:04:05.000006', 'tags': ['x'], 'pair': [1, 2],
                      'thing': {'name': 'thing', 'when': '2024-01-02T03:04:05.000000',
                                'tags': ['a']}}
    json.dumps(result)


def test_json_payload_serializer_leaves_deserialization_and_context_alone():
    ser = messaging.JsonPayloadSerializer()
    assert ser.deserialize_entity({}, {'a': [1]}) == {'a': [1]}
    ctxt = {'user': 'u'}
    assert ser.serialize_context(ctxt) is ctxt


def test_request_context_serializer_wraps_a_base_serializer():
    class Ctxt:
        def to_dict(self):
            return {'user': 'u1'}

    ser = messaging.RequestContextSerializer(messaging.JsonPayloadSerializer())
    assert ser.serialize_entity(None, {'s': {1}}) == {'s': [1]}
    assert ser.serialize_context(Ctxt()) == {'user': 'u1'}
    plain = messaging.RequestContextSerializer(None)
    value = object()
    assert plain.serialize_entity(None, value) is value
    assert plain.deserialize_entity(None, value) is value


def test_request_context_serializer_rebuilds_an_oslo_context():
    oslo_context = pytest.importorskip('oslo_context.context')
    ser = messaging.RequestContextSerializer(None)
    ctxt = ser.deserialize_context({'user_id': 'u1', 'request_id': 'req-1'})
    assert isinstance(ctxt, oslo_context.RequestContext)
    assert ctxt.request_id == 'req-1'


def test_json_payload_serializer_never_raises_on_an_object_cycle_or_a_mock():
    # oslo.serialization follows objects three levels deep, then gives None.
    class Node:
        pass

    node = Node()
    node.me, node.n = node, 1
    ser = messaging.JsonPayloadSerializer()
    assert ser.serialize_entity({}, node) == {'me': {'me': {'me': None, 'n': 1}, 'n': 1},
                                              'n': 1}
    assert ser.serialize_entity({}, {'m': mock.Mock()})['m'].startswith('<Mock id=')


def test_public_names_are_exported():
    for name in serializer_mod.__all__:
        assert getattr(messaging, name) is getattr(serializer_mod, name)
