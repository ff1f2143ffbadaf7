"""Failure deserialization on hostile input (WIRE.md §5.7).

A reply's ``failure`` is written by whoever can publish to our reply
queue. Rebuilding it must never import a module outside
``allowed_remote_exmods`` (nor ``builtins``), never raise, and always give
the caller an exception that says what happened remotely.
"""
from __future__ import annotations

import importlib
import json
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from messaging import wire
from messaging.rpc.client import RemoteError

HERE = __name__


class NeedsTwo(Exception):
    """An allowed exception whose constructor wants exactly two arguments."""

    def __init__(self, first, second):
        super().__init__(first, second)


class Refuses(Exception):
    """An allowed exception whose constructor fails with no TypeError."""

    def __init__(self, *args, **kwargs):
        raise RuntimeError('constructor refuses %r' % (args,))


class NotAnException:
    pass


def failure(cls, module, message='remote text', args=(), kwargs=None):
    return json.dumps({'class': cls, 'module': module, 'message': message,
                       'tb': ['Traceback (most recent call last):\n', '  remote frame\n'],
                       'args': list(args), 'kwargs': kwargs or {}})


HOSTILE_MODULES = [
    'os', 'subprocess', 'posix', 'shutil', 'pickle', 'ctypes',
    'no_such_module_anywhere', 'no.such.module',
    '..', 'a..b', '.os', 'os.', '../../etc/passwd', 'os/path', 'os\x00',
    '__builtins__', '__builtin__', '__main__', 'builtins ', ' builtins', 'BUILTINS',
    'importlib', 'sys', 'tests', 'tests.unit',
    'x' * 100000, '.'.join(['a'] * 10000),
    'oslo_messaging_evil', 'messagingx.exceptions',
]


@pytest.mark.parametrize('module', HOSTILE_MODULES)
@pytest.mark.parametrize('cls', ['Exception', 'system', 'Popen', 'NeedsTwo', '__import__'])
def test_a_module_outside_the_allowed_list_is_never_imported(imports, module, cls):
    loaded = set(sys.modules)
    exc = wire.deserialize_remote_exception(failure(cls, module, args=['ls']),
                                            ['messaging.exceptions', HERE])
    assert isinstance(exc, RemoteError)
    assert exc.exc_type == cls and exc.value == 'remote text'
    assert imports == []
    assert set(sys.modules) == loaded


@pytest.mark.parametrize('allowed', [['a..b'], ['..'], ['os..path'], ['.os'], ['os.'], ['os\n'],
                                     ['\uff4f\uff53']])
def test_even_an_allowed_name_that_is_no_module_path_is_not_imported(imports, allowed):
    exc = wire.deserialize_remote_exception(failure('Exception', allowed[0]), allowed)
    assert isinstance(exc, RemoteError) and imports == []


@pytest.mark.parametrize('cls', ['__class__', '__loader__', 'eval', 'exec', '__import__',
                                 'open', 'SystemExit', 'KeyboardInterrupt', 'GeneratorExit',
                                 'BaseException', 'NoSuchClass', 'x' * 100000, 'a.b',
                                 'Exception()', ''])
def test_builtins_rebuild_only_exception_classes(cls):
    exc = wire.deserialize_remote_exception(failure(cls, 'builtins', args=['x']), [])
    assert isinstance(exc, RemoteError) and exc.exc_type == (cls or 'UnknownError')


def test_an_allowed_class_whose_constructor_rejects_the_args_gives_remote_error(imports):
    exc = wire.deserialize_remote_exception(failure('NeedsTwo', HERE, 'needs two',
                                                    args=['only one']), [HERE])
    assert isinstance(exc, RemoteError)
    assert exc.exc_type == 'NeedsTwo' and exc.value == 'needs two'
    assert exc.traceback[-1] == '  remote frame\n'
    assert 'needs two' in str(exc)
    assert imports == [HERE]


def test_an_allowed_class_whose_constructor_raises_gives_remote_error():
    exc = wire.deserialize_remote_exception(failure('Refuses', HERE, 'no', kwargs={'a': 1}),
                                            [HERE])
    assert isinstance(exc, RemoteError) and exc.exc_type == 'Refuses'


@pytest.mark.parametrize('kwargs', [{'not an identifier': 1}, {'first': 1, 'second': 2,
                                                                'third': 3}])
def test_kwargs_the_constructor_does_not_take_give_remote_error(kwargs):
    exc = wire.deserialize_remote_exception(failure('NeedsTwo', HERE, kwargs=kwargs), [HERE])
    assert isinstance(exc, RemoteError)


def test_an_allowed_attribute_that_is_no_exception_class_gives_remote_error():
    for name in ('NotAnException', 'failure', 'HERE', 'json'):
        exc = wire.deserialize_remote_exception(failure(name, HERE), [HERE])
        assert isinstance(exc, RemoteError)


def test_an_allowed_class_with_good_args_is_rebuilt():
    exc = wire.deserialize_remote_exception(failure('NeedsTwo', HERE, 'm', args=[1, 2]),
                                            [HERE])
    assert isinstance(exc, NeedsTwo) and exc.args == (1, 2)
    assert str(exc).startswith('m\n')


@pytest.mark.parametrize('data', [
    None, '', 'not json', '[]', '[' * 100000, '{"class": ' + '[' * 500 + ']' * 500 + '}',
    json.dumps({'class': ['x'], 'module': {'m': 1}, 'message': ['deep'] * 3, 'tb': 'str',
                'args': 'notalist', 'kwargs': ['notadict']}),
    json.dumps({'class': 'ValueError', 'module': 'builtins', 'message': 'm',
                'args': [[[[[[1]]]]]] * 3, 'tb': [1, None, {'a': 1}]}),
    12, 3.5, ['a'], {'class': 'ValueError', 'module': 'builtins', 'args': ['direct dict']},
    b'\xff\xfe', json.dumps({'class': 'ValueError', 'module': 'builtins', 'message': '\ud800'}),
])
def test_malformed_failures_still_give_an_exception(data):
    exc = wire.deserialize_remote_exception(data, [])
    assert isinstance(exc, Exception)
    str(exc), repr(exc)


failure_fields = st.fixed_dictionaries({}, optional={
    'class': st.text(max_size=30) | st.sampled_from(['ValueError', 'KeyError', 'OSError',
                                                      'NeedsTwo', 'Refuses', 'UnicodeError',
                                                      'MessagingTimeout', 'RemoteError']),
    'module': st.sampled_from(['builtins', 'exceptions', HERE, 'messaging.exceptions',
                               'oslo_messaging.exceptions', 'os', '', 'a..b'])
    | st.text(max_size=30),
    'message': st.text(max_size=30) | st.integers() | st.none(),
    'tb': st.lists(st.text(max_size=10), max_size=3) | st.text(max_size=5),
    'args': st.lists(st.integers() | st.text(max_size=5) | st.none(), max_size=6)
    | st.integers(),
    'kwargs': st.dictionaries(st.text(max_size=8), st.integers() | st.text(max_size=5),
                              max_size=3) | st.text(max_size=3),
})


@settings(max_examples=400)
@given(failure_fields, st.booleans())
def test_any_failure_gives_an_exception_and_imports_only_allowed_modules(fields, as_json):
    allowed = ['messaging.exceptions', HERE]
    asked = []
    real = importlib.import_module

    def spy(name, package=None):
        asked.append(name)
        return real(name, package)

    saved, wire.importlib.import_module = wire.importlib.import_module, spy
    try:
        exc = wire.deserialize_remote_exception(json.dumps(fields) if as_json else fields,
                                                allowed)
    finally:
        wire.importlib.import_module = saved
    assert isinstance(exc, Exception)
    str(exc), repr(exc)
    assert all(name in ('builtins', 'messaging.exceptions', HERE) for name in asked)
