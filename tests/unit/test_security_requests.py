"""Requests no endpoint could take, through the fake driver: the caller gets
a TypeError that says which field is wrong, the endpoint never runs, and
the server keeps serving (the rabbit driver's tests are in
tests/functional/test_hostile_rpc.py)."""
from __future__ import annotations

import logging
import re

import pytest

import messaging
from tests.unit.test_rpc_support import TOPIC, make_transport, running_server


class Echo:
    def __init__(self):
        self.calls = 0

    def echo(self, ctxt, value=None):
        self.calls += 1
        return value


@pytest.mark.parametrize('fields, reason', [
    ({'method': None}, '"method" is missing'),
    ({'method': ['echo']}, '"method" is a list'),
    ({'method': {'name': 'echo'}}, '"method" is a dict'),
    ({'args': ['value', 1]}, "arguments of RPC method 'echo' are a list"),
    ({'args': 'value=1'}, 'are a str'),
    ({'version': '1.x'}, "version of RPC method 'echo' is '1.x'"),
    ({'version': 2.0}, 'is 2.0, not "X.Y"'),
    ({'version': '1' * 50}, 'not "X.Y"'),
    ({'namespace': ['ns']}, 'namespace of RPC method .echo. is a list'),
])
def test_a_malformed_request_gets_a_type_error_and_never_runs(fields, reason, caplog):
    transport = make_transport()
    endpoint = Echo()
    request = {'method': 'echo', 'args': {'value': 1}}
    request.update(fields)
    with running_server(transport, [endpoint]):
        with caplog.at_level(logging.ERROR, logger='messaging.rpc.server'):
            with pytest.raises(TypeError, match=reason):
                transport._send(messaging.Target(topic=TOPIC), {}, request,
                                wait_for_reply=True, timeout=5)
        assert transport._send(messaging.Target(topic=TOPIC), {},
                               {'method': 'echo', 'args': {'value': 2}},
                               wait_for_reply=True, timeout=5) == 2
    assert endpoint.calls == 1
    [line] = [r.getMessage() for r in caplog.records if 'Refusing call' in r.getMessage()]
    assert re.search(reason, line) and 'replying with this error' in line


@pytest.mark.parametrize('version', ['1.0', '1.1', '2.0.0', '', None])
def test_well_formed_versions_reach_the_dispatcher(version):
    transport = make_transport()
    request = {'method': 'echo', 'args': {'value': 3}}
    if version is not None:
        request['version'] = version
    with running_server(transport, [Echo()]):
        try:
            result = transport._send(messaging.Target(topic=TOPIC), {}, request,
                                     wait_for_reply=True, timeout=5)
        except messaging.UnsupportedVersion as ex:
            # The fake driver raises the server's exception itself, as oslo's does.
            result = type(ex).__name__
    assert result == (3 if version in ('1.0', '', None) else 'UnsupportedVersion')
