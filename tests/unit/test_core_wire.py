"""drivers/wire.py: envelope, context packing, failure (de)serialization.

WIRE.md §2.2-2.3 (envelope), §3.2 (context), §5.6-5.7 (failures).
"""
import importlib
import json
import sys
import types

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from messaging import exceptions
from messaging import wire
from messaging.rpc.client import RemoteError

json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) \
    | st.text(max_size=20)
json_values = st.recursive(json_scalars,
                           lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=10), inner, max_size=4),
                           max_leaves=20)


# --- envelope ---------------------------------------------------------------

def test_envelope_round_trip():
    msg = {'method': 'echo', 'args': {'x': 1, 'y': ['two', None]}, '_unique_id': 'u'}
    body = wire.serialize_msg(msg)
    assert set(body) == {'oslo.version', 'oslo.message'}
    assert body['oslo.version'] == '2.0'
    assert isinstance(body['oslo.message'], str)
    assert json.loads(body['oslo.message']) == msg
    assert wire.deserialize_msg(json.loads(json.dumps(body))) == msg


def test_envelope_inner_json_converts_datetimes_and_sets():
    import datetime
    msg = {'when': datetime.datetime(2024, 1, 2, 3, 4, 5, 6), 'tags': {'a'}, 'pair': (1, 2)}
    inner = json.loads(wire.serialize_msg(msg)['oslo.message'])
    assert inner == {'when': '2024-01-02T03:04:05.000006', 'tags': ['a'], 'pair': [1, 2]}


@given(st.dictionaries(st.text(max_size=10), json_values, max_size=5))
def test_envelope_round_trip_property(msg):
    assert wire.deserialize_msg(wire.serialize_msg(msg)) == msg


@pytest.mark.parametrize('body', [
    {'method': 'm', 'args': {}},
    {'oslo.version': '2.0', 'method': 'm'},
    {'oslo.message': '{"x": 1}', 'method': 'm'},
    {},
])
def test_unenveloped_dict_is_used_as_is(body):
    assert wire.deserialize_msg(body) == body


@pytest.mark.parametrize('version', ['2.1', '3.0', '1.0', '2.5', 'x', ''])
def test_unsupported_envelope_version_is_rejected(version):
    with pytest.raises(wire.UnsupportedEnvelope):
        wire.deserialize_msg({'oslo.version': version, 'oslo.message': '{}'})


@pytest.mark.parametrize('version', [2.0, 2, None, ['2.0'], {'v': '2.0'}])
def test_non_string_envelope_version_is_rejected(version):
    with pytest.raises(wire.MalformedMessage):
        wire.deserialize_msg({'oslo.version': version, 'oslo.message': '{}'})


@pytest.mark.parametrize('version', ['2.0', '2.0.0'])
def test_versions_compatible_with_2_0_are_accepted(version):
    # oslo checks the envelope with version_is_compatible('2.0', version).
    assert wire.deserialize_msg({'oslo.version': version, 'oslo.message': '{"a": 1}'}) == {
        'a': 1}


@pytest.mark.parametrize('inner', [{'a': 1}, ['a'], 1, None, b'{}'])
def test_inner_message_must_be_a_string(inner):
    with pytest.raises(wire.MalformedMessage):
        wire.deserialize_msg({'oslo.version': '2.0', 'oslo.message': inner})


@pytest.mark.parametrize('inner', ['not json', '{"a": ', '', '{"a": 1} trailing'])
def test_inner_message_must_be_json(inner):
    with pytest.raises(wire.MalformedMessage):
        wire.deserialize_msg({'oslo.version': '2.0', 'oslo.message': inner})


@pytest.mark.parametrize('inner', ['[]', '"text"', '42', 'null', 'true'])
def test_inner_message_must_be_an_object(inner):
    with pytest.raises(wire.MalformedMessage):
        wire.deserialize_msg({'oslo.version': '2.0', 'oslo.message': inner})


def test_deeply_nested_inner_message_is_malformed_not_a_crash():
    with pytest.raises(wire.MalformedMessage):
        wire.deserialize_msg({'oslo.version': '2.0', 'oslo.message': '[' * 100000})


@pytest.mark.parametrize('body', [[], 'text', 42, None, b'{}', ['oslo.version']])
def test_body_must_be_a_dict(body):
    with pytest.raises(wire.MalformedMessage):
        wire.deserialize_msg(body)


def test_unsupported_envelope_is_a_malformed_message():
    assert issubclass(wire.UnsupportedEnvelope, wire.MalformedMessage)


@given(json_values | st.fixed_dictionaries({'oslo.version': json_values,
                                            'oslo.message': json_values | st.text()}))
def test_deserialize_msg_raises_only_malformed_message(body):
    try:
        result = wire.deserialize_msg(body)
    except wire.MalformedMessage:
        return
    assert isinstance(result, dict)


# --- context ----------------------------------------------------------------

def test_pack_context_flattens_entries_with_prefix():
    msg = {'method': 'm'}
    wire.pack_context(msg, {'user': 'u1', 'roles': ['a'], 'nested': {'k': 1}})
    assert msg == {'method': 'm', '_context_user': 'u1', '_context_roles': ['a'],
                   '_context_nested': {'k': 1}}


class ObjectContext:
    def to_dict(self):
        return {'user': 'u2', 'request_id': 'req-2'}


def test_pack_object_context_uses_its_to_dict():
    # WIRE.md 3.2: "An object context contributes to_dict()" (a NoOpSerializer
    # hands an oslo.context RequestContext to the driver unchanged).
    msg = {'method': 'm'}
    wire.pack_context(msg, ObjectContext())
    assert msg == {'method': 'm', '_context_user': 'u2', '_context_request_id': 'req-2'}


def test_pack_empty_or_none_context_adds_nothing():
    for ctxt in ({}, None):
        msg = {'method': 'm'}
        wire.pack_context(msg, ctxt)
        assert msg == {'method': 'm'}


def test_unpack_context_strips_call_fields_and_adds_client_timeout():
    msg = {'method': 'm', 'args': {'a': 1}, '_context_user': 'u1',
           '_context_request_id': 'req-abc', '_msg_id': 'mid', '_reply_q': 'reply_x',
           '_timeout': 30, '_unique_id': 'uid'}
    ctxt, msg_id, reply_q = wire.unpack_context(msg)
    assert ctxt == {'user': 'u1', 'request_id': 'req-abc', 'client_timeout': 30}
    assert (msg_id, reply_q) == ('mid', 'reply_x')
    assert msg == {'method': 'm', 'args': {'a': 1}}


def test_unpack_context_of_a_cast_has_null_client_timeout():
    msg = {'method': 'm', '_context_user': 'u1', '_unique_id': 'uid'}
    ctxt, msg_id, reply_q = wire.unpack_context(msg)
    assert ctxt == {'user': 'u1', 'client_timeout': None}
    assert (msg_id, reply_q) == (None, None)
    assert msg == {'method': 'm'}


@given(st.dictionaries(st.text(max_size=10).filter(lambda k: k != 'client_timeout'),
                       json_values, max_size=5))
def test_pack_then_unpack_gives_the_context_back(ctxt):
    msg = {'method': 'm'}
    wire.pack_context(msg, ctxt)
    got, _, _ = wire.unpack_context(msg)
    assert got == dict(ctxt, client_timeout=None)
    assert msg == {'method': 'm'}


# --- failure serialization --------------------------------------------------

def _raised(exc):
    try:
        raise exc
    except BaseException as caught:
        return caught


def test_failure_serialization_has_exactly_the_oslo_keys():
    data = json.loads(wire.serialize_remote_exception(_raised(ValueError('bad value', 42))))
    assert set(data) == {'class', 'module', 'message', 'tb', 'args', 'kwargs'}
    assert data['class'] == 'ValueError'
    assert data['module'] == 'builtins'
    assert data['message'] == "('bad value', 42)"
    assert data['args'] == ['bad value', 42]
    assert data['kwargs'] == {}
    assert data['tb'][0] == 'Traceback (most recent call last):\n'
    assert all(line.endswith('\n') for line in data['tb'])
    assert data['tb'][-1] == "ValueError: ('bad value', 42)\n"


class MyError(Exception):
    def __init__(self, message, b=None, **kwargs):
        super().__init__(message, b)
        self.kwargs = kwargs


def test_failure_serialization_keeps_kwargs_attribute():
    data = json.loads(wire.serialize_remote_exception(_raised(MyError('custom', b=2,
                                                                      foo='bar'))))
    assert data['class'] == 'MyError'
    assert data['module'] == __name__
    assert data['args'] == ['custom', 2]
    assert data['kwargs'] == {'foo': 'bar'}


def test_our_modules_are_written_as_oslo_messaging():
    data = json.loads(wire.serialize_remote_exception(
        _raised(exceptions.MessagingTimeout('slow'))))
    assert (data['class'], data['module']) == ('MessagingTimeout', 'oslo_messaging.exceptions')


def test_remote_suffix_is_stripped_before_serializing():
    failure = wire.deserialize_remote_exception(
        json.dumps({'class': 'MessagingTimeout', 'module': 'oslo_messaging.exceptions',
                    'message': 'slow', 'tb': [], 'args': ['slow'], 'kwargs': {}}),
        ['oslo_messaging.exceptions'])
    assert type(failure).__name__ == 'MessagingTimeout_Remote'
    data = json.loads(wire.serialize_remote_exception(failure))
    assert (data['class'], data['module']) == ('MessagingTimeout', 'oslo_messaging.exceptions')


def test_suffix_is_kept_when_only_the_class_has_it():
    error_cls = type('Odd_Remote', (Exception,), {'__module__': 'plain.module'})
    data = json.loads(wire.serialize_remote_exception(error_cls('x')))
    assert (data['class'], data['module']) == ('Odd_Remote', 'plain.module')


class Opaque:
    def __repr__(self):
        return '<Opaque thing>'


def test_non_json_args_and_kwargs_survive_as_repr():
    error = MyError(Opaque(), b=3, when=Opaque())
    data = json.loads(wire.serialize_remote_exception(_raised(error)))
    assert data['args'] == ['<Opaque thing>', 3]
    assert data['kwargs'] == {'when': '<Opaque thing>'}


def test_non_dict_kwargs_attribute_is_ignored():
    error = ValueError('x')
    error.kwargs = ['not', 'a', 'dict']
    assert json.loads(wire.serialize_remote_exception(error))['kwargs'] == {}


def test_unraised_exception_serializes_without_traceback_frames():
    data = json.loads(wire.serialize_remote_exception(KeyError('k')))
    assert data['tb'] == ["KeyError: 'k'\n"]


def test_wire_and_local_module_mapping():
    assert wire.wire_module('messaging.exceptions') == 'oslo_messaging.exceptions'
    assert wire.wire_module('messaging') == 'oslo_messaging'
    assert wire.wire_module('messaging_extra.x') == 'messaging_extra.x'
    assert wire.wire_module('nova.exception') == 'nova.exception'
    assert wire.local_module('oslo_messaging.rpc.dispatcher') == 'messaging.rpc.dispatcher'
    assert wire.local_module('oslo_messaging_extra') == 'oslo_messaging_extra'


# --- failure deserialization ------------------------------------------------

def failure(cls, module, message='boom msg', args=None, kwargs=None,
            tb=('Traceback (most recent call last):\n', '  fake frame\n')):
    return json.dumps({'class': cls, 'module': module, 'message': message,
                       'tb': list(tb), 'args': [message] if args is None else args,
                       'kwargs': kwargs or {}})


FULL = 'bad thing\nTraceback (most recent call last):\n\n  fake frame\n'


@pytest.mark.parametrize('module', ['builtins', 'exceptions'])
def test_builtin_value_error_keeps_its_type_with_traceback_in_args(module):
    error = wire.deserialize_remote_exception(
        failure('ValueError', module, 'bad thing', args=['bad thing', 7]), [])
    assert type(error) is ValueError
    assert error.args == (FULL, 7)


def test_builtin_key_error_from_python2_module_name_is_rebuilt():
    error = wire.deserialize_remote_exception(failure('KeyError', 'exceptions',
                                                      'bad thing'), [])
    assert type(error) is KeyError
    assert error.args == (FULL,)


def test_allowed_module_gives_a_remote_subclass():
    error = wire.deserialize_remote_exception(
        failure('MessagingTimeout', 'oslo_messaging.exceptions', 'bad thing'),
        ['oslo_messaging.exceptions'])
    assert isinstance(error, exceptions.MessagingTimeout)
    assert type(error).__name__ == 'MessagingTimeout_Remote'
    assert type(error).__module__ == 'oslo_messaging.exceptions_Remote'
    assert str(error) == FULL
    assert error.args == ('bad thing',)


def test_allowed_as_our_module_name_also_maps_oslo_failures_to_our_class():
    error = wire.deserialize_remote_exception(
        failure('MessagingTimeout', 'oslo_messaging.exceptions', 'bad thing'),
        ['messaging.exceptions'])
    assert isinstance(error, exceptions.MessagingTimeout)
    assert str(error) == FULL


def test_oslo_module_maps_to_ours_even_if_oslo_messaging_is_importable(monkeypatch):
    fake_oslo = types.ModuleType('oslo_messaging.exceptions')
    fake_oslo.MessagingTimeout = type('MessagingTimeout', (Exception,), {})
    monkeypatch.setitem(sys.modules, 'oslo_messaging.exceptions', fake_oslo)
    error = wire.deserialize_remote_exception(
        failure('MessagingTimeout', 'oslo_messaging.exceptions'), ['oslo_messaging.exceptions'])
    assert isinstance(error, exceptions.MessagingTimeout)


def test_allowed_application_module_with_kwargs():
    error = wire.deserialize_remote_exception(
        failure('MyError', __name__, 'custom', args=['custom', 2], kwargs={'foo': 'bar'}),
        [__name__])
    assert isinstance(error, MyError)
    assert error.kwargs == {'foo': 'bar'}
    assert error.args == ('custom', 2)
    assert str(error).startswith('custom\nTraceback')


def test_module_not_allowed_becomes_remote_error():
    error = wire.deserialize_remote_exception(
        failure('Boom', 'some.unknown.module', 'boom msg'), ['oslo_messaging.exceptions'])
    assert type(error) is RemoteError
    assert error.exc_type == 'Boom'
    assert error.value == 'boom msg'
    assert error.traceback == ['Traceback (most recent call last):\n', '  fake frame\n']
    assert str(error) == ("Remote error: Boom boom msg\n"
                          "['Traceback (most recent call last):\\n', '  fake frame\\n'].")


def test_our_exceptions_are_not_rebuilt_unless_allowed():
    error = wire.deserialize_remote_exception(
        failure('MessagingTimeout', 'oslo_messaging.exceptions'), [])
    assert type(error) is RemoteError


@pytest.fixture
def no_import(monkeypatch):
    def refuse(name, *args, **kwargs):
        raise AssertionError('imported %r' % name)
    monkeypatch.setattr(importlib, 'import_module', refuse)
    monkeypatch.setattr(wire.importlib, 'import_module', refuse)


@pytest.mark.parametrize('module, cls', [
    ('os', 'error'),
    ('subprocess', 'CalledProcessError'),
    ('no_such_module_xyz', 'Boom'),
    ('a..b', 'Boom'),
    ("__import__('os')", 'Boom'),
    ('os; import sys', 'Boom'),
    ('', 'ValueError'),
    ('builtins.evil', 'ValueError'),
    ('oslo_messaging', 'MessagingTimeout'),
])
def test_modules_not_allowed_are_never_imported(no_import, module, cls):
    error = wire.deserialize_remote_exception(failure(cls, module),
                                              ['oslo_messaging.exceptions'])
    assert type(error) is RemoteError


def test_module_not_allowed_stays_out_of_sys_modules():
    name = 'messaging_test_dummy_never_imported_%s' % wire.unique_id()
    wire.deserialize_remote_exception(failure('Boom', name), ['other.module'])
    assert name not in sys.modules


def test_malicious_names_in_the_allowed_list_are_still_refused(no_import):
    for module in ('a..b', "__import__('os')", ''):
        error = wire.deserialize_remote_exception(failure('Boom', module), [module])
        assert type(error) is RemoteError


@pytest.mark.parametrize('cls', ['SystemExit', 'KeyboardInterrupt', 'GeneratorExit',
                                 'BaseException', 'object', 'print', '__import__',
                                 'NoSuchClassX', '__class__', 'eval'])
def test_builtins_that_are_not_exceptions_become_remote_error(cls):
    error = wire.deserialize_remote_exception(failure(cls, 'builtins'), [])
    assert type(error) is RemoteError


def test_missing_class_in_allowed_module_becomes_remote_error():
    error = wire.deserialize_remote_exception(
        failure('NoSuchClassX', 'oslo_messaging.exceptions'), ['oslo_messaging.exceptions'])
    assert type(error) is RemoteError


def test_allowed_module_that_does_not_exist_becomes_remote_error():
    error = wire.deserialize_remote_exception(
        failure('Boom', 'no_such_package_abc.exc'), ['no_such_package_abc.exc'])
    assert type(error) is RemoteError


def test_non_exception_attribute_of_allowed_module_becomes_remote_error():
    error = wire.deserialize_remote_exception(
        failure('LOG', 'messaging.wire'), ['messaging.wire'])
    assert type(error) is RemoteError


@pytest.mark.parametrize('args, kwargs', [
    ([], {}),
    (['a', 'b', 'c', 'd'], {}),
    (['x'], {'unexpected': 1}),
])
def test_constructor_rejecting_the_args_becomes_remote_error(args, kwargs):
    error = wire.deserialize_remote_exception(
        failure('InvalidTarget', 'oslo_messaging.exceptions', args=args, kwargs=kwargs),
        ['oslo_messaging.exceptions'])
    assert type(error) is RemoteError
    assert error.exc_type == 'InvalidTarget'


def test_builtin_constructor_rejecting_args_becomes_remote_error():
    error = wire.deserialize_remote_exception(
        failure('UnicodeDecodeError', 'builtins', args=['only one']), [])
    assert type(error) is RemoteError


@pytest.mark.parametrize('data', [
    'not json',
    '',
    '[1, 2]',
    '"text"',
    'null',
    '{}',
    '{"class": "ValueError"}',
    '{"module": "builtins"}',
    json.dumps({'class': ['ValueError'], 'module': 'builtins', 'message': 'm'}),
    json.dumps({'class': 'Boom', 'module': {'x': 1}, 'message': 'm'}),
    json.dumps({'class': 'Boom', 'module': 'x', 'message': 'm', 'tb': 'not a list'}),
    json.dumps({'class': 'Boom', 'module': 'x', 'message': None, 'tb': None,
                'args': None, 'kwargs': None}),
    '[' * 100000,
    b'\xff\xfe',
    None,
    42,
])
def test_malformed_failures_become_remote_error(data):
    assert type(wire.deserialize_remote_exception(data, ['x'])) is RemoteError


def test_builtin_with_wrongly_typed_args_and_kwargs_still_rebuilds():
    error = wire.deserialize_remote_exception(json.dumps(
        {'class': 'ValueError', 'module': 'builtins', 'message': 'm', 'tb': 'oops',
         'args': 'not a list', 'kwargs': 'not a dict'}), [])
    assert type(error) is ValueError
    assert error.args == ('m\n',)


failure_dicts = st.dictionaries(
    st.sampled_from(['class', 'module', 'message', 'tb', 'args', 'kwargs', 'other']),
    json_values | st.sampled_from(['ValueError', 'KeyError', 'builtins', 'exceptions',
                                   'oslo_messaging.exceptions', 'MessagingTimeout',
                                   'InvalidTarget', 'os', 'SystemExit'])
    | st.lists(st.text(max_size=5), max_size=3),
    max_size=7)


@settings(max_examples=300)
@given(failure_dicts, st.booleans())
def test_arbitrary_failure_dicts_never_raise(data, as_json):
    error = wire.deserialize_remote_exception(
        json.dumps(data) if as_json else data, ['oslo_messaging.exceptions'])
    assert isinstance(error, Exception)


@given(json_values)
def test_arbitrary_json_failures_never_raise(data):
    error = wire.deserialize_remote_exception(json.dumps(data), [])
    assert isinstance(error, Exception)


def test_round_trip_of_our_exception_through_the_wire():
    original = _raised(exceptions.MessagingTimeout('took too long'))
    rebuilt = wire.deserialize_remote_exception(
        wire.serialize_remote_exception(original), ['oslo_messaging.exceptions'])
    assert isinstance(rebuilt, exceptions.MessagingTimeout)
    assert str(rebuilt).startswith('took too long\nTraceback (most recent call last):\n')
    assert rebuilt.args == ('took too long',)


odd_values = json_values | st.builds(Opaque) | st.binary(max_size=8) \
    | st.sets(st.integers(), max_size=3) | st.tuples(st.integers(), st.builds(Opaque))


@given(st.lists(odd_values, max_size=4), st.dictionaries(st.text(max_size=5), odd_values,
                                                          max_size=3))
def test_any_exception_args_serialize_to_valid_json(args, kwargs):
    error = ValueError(*args)
    error.kwargs = kwargs
    data = json.loads(wire.serialize_remote_exception(error))
    assert data['class'] == 'ValueError'
    assert len(data['args']) == len(args)
    assert set(data['kwargs']) == set(kwargs)
