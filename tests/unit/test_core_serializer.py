"""Serializers and the JSON conversion rules of _jsonutils (WIRE.md §2.2)."""
import datetime
import decimal
import ipaddress
import json
import uuid

import pytest

import messaging
from messaging import _jsonutils
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


@pytest.mark.parametrize('value, expected', [
    (None, None), ('s', 's'), (True, True), (3, 3), (1.5, 1.5),
    (datetime.datetime(2020, 5, 6, 7, 8, 9), '2020-05-06T07:08:09.000000'),
    (datetime.datetime(2020, 5, 6, 7, 8, 9, 123456), '2020-05-06T07:08:09.123456'),
    ({1, 2}, [1, 2]), (frozenset([3]), [3]), ((1, 'a'), [1, 'a']),
    ({1: 'int key'}, {'1': 'int key'}),
    (b'bytes', 'bytes'),
    (uuid.UUID('12345678123456781234567812345678'), '12345678-1234-5678-1234-567812345678'),
    (ipaddress.ip_address('10.0.0.1'), '10.0.0.1'),
    (decimal.Decimal('1.25'), '1.25'),
    (WithToDict(), {'k': [1, 2]}),
    (iter([1, 2]), [1, 2]),
])
def test_to_primitive(value, expected):
    assert _jsonutils.to_primitive(value) == expected


def test_datetime_format_is_the_oslo_one():
    assert _jsonutils.DATETIME_FORMAT == '%Y-%m-%dT%H:%M:%S.%f'


def test_to_primitive_of_nested_containers():
    value = {'a': [{'b': (datetime.datetime(2021, 1, 1),)}], 'c': {'d': {5}}}
    assert _jsonutils.to_primitive(value) == {
        'a': [{'b': ['2021-01-01T00:00:00.000000']}], 'c': {'d': [5]}}


def test_unconvertible_object_is_a_value_error_naming_its_type():
    with pytest.raises(ValueError, match='Opaque'):
        _jsonutils.to_primitive(Opaque())
    with pytest.raises(ValueError, match='Thing'):
        _jsonutils.to_primitive({'x': [Thing()]})


def test_objects_convert_only_when_asked():
    assert _jsonutils.to_primitive(Thing(), convert_instances=True)['name'] == 'thing'


def test_self_referencing_value_is_a_value_error_not_a_crash():
    loop = []
    loop.append(loop)
    with pytest.raises(ValueError):
        _jsonutils.to_primitive(loop)


def test_dumps_converts_and_names_unconvertible_types():
    assert json.loads(_jsonutils.dumps({'t': datetime.datetime(2024, 1, 2), 's': {1}})) == {
        't': '2024-01-02T00:00:00.000000', 's': [1]}
    with pytest.raises(ValueError, match='Opaque'):
        _jsonutils.dumps({'x': Opaque()})


def test_loads_is_json_loads():
    assert _jsonutils.loads('{"a": [1, null]}') == {'a': [1, None]}


def test_public_names_are_exported():
    for name in serializer_mod.__all__:
        assert getattr(messaging, name) is getattr(serializer_mod, name)
