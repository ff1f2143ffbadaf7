"""RPC end to end on fake://: servers, clients, routing, failures, lifecycle."""
from __future__ import annotations

import logging
import threading

import pytest

import messaging
from tests.unit.test_rpc_support import TOPIC, make_transport, running_server

WAIT = 5


class CustomError(Exception):
    """An application exception a caller may be allowed to rebuild."""


class ExpectedError(Exception):
    """An exception the endpoint declares as part of its normal use."""


class Endpoint:
    def __init__(self, name: str = 'server-1') -> None:
        self.name = name
        self.cast_seen = threading.Event()
        self.cast_args: list = []

    def echo(self, ctxt, value):
        return value

    def whoami(self, ctxt):
        return self.name

    def context(self, ctxt):
        return ctxt

    def remember(self, ctxt, value):
        self.cast_args.append(value)
        self.cast_seen.set()

    def boom_value(self, ctxt):
        raise ValueError('bad value', 42)

    def boom_custom(self, ctxt):
        raise CustomError('custom', 7)

    @messaging.expected_exceptions(ExpectedError)
    def boom_expected(self, ctxt):
        raise ExpectedError('as planned')

    def _private(self, ctxt):
        return 'private'


class Versioned:
    target = messaging.Target(namespace='ns', version='1.2')

    def echo(self, ctxt, value):
        return ('versioned', value)


def client_for(transport, **kwargs) -> messaging.RPCClient:
    return messaging.get_rpc_client(transport, messaging.Target(topic=TOPIC),
                                    timeout=kwargs.pop('timeout', WAIT), **kwargs)


def test_call_returns_the_result_and_passes_the_context():
    transport = make_transport()
    with running_server(transport, [Endpoint()]):
        client = client_for(transport)
        assert client.call({}, 'echo', value=[1, 'two']) == [1, 'two']
        assert client.call({'user': 'alice'}, 'context') == {'user': 'alice'}


def test_cast_runs_the_method():
    transport = make_transport()
    endpoint = Endpoint()
    with running_server(transport, [endpoint]):
        assert client_for(transport).cast({}, 'remember', value=3) is None
        assert endpoint.cast_seen.wait(WAIT)
    assert endpoint.cast_args == [3]


def test_builtin_exception_is_raised_as_the_same_type():
    transport = make_transport()
    with running_server(transport, [Endpoint()]):
        with pytest.raises(ValueError) as raised:
            client_for(transport).call({}, 'boom_value')
    assert type(raised.value) is ValueError
    assert 'bad value' in str(raised.value)


def test_the_fake_driver_raises_the_servers_own_exception_whatever_its_module():
    # As oslo.messaging's fake driver: nothing crosses a wire, so nothing is
    # rebuilt (rebuilding is proved on the rabbit driver).
    transport = make_transport()
    with running_server(transport, [Endpoint()]):
        with pytest.raises(CustomError) as raised:
            client_for(transport).call({}, 'boom_custom')
    assert type(raised.value) is CustomError
    assert raised.value.args == ('custom', 7)


@pytest.mark.parametrize('method', ['no_such_method', '_private'])
def test_missing_or_private_method_fails_with_no_such_method(method):
    transport = make_transport()
    with running_server(transport, [Endpoint()]):
        with pytest.raises(messaging.NoSuchMethod) as raised:
            client_for(transport).call({}, method)
    assert str(raised.value) == 'Endpoint does not support RPC method %s' % method


def test_dispatcher_failures_are_rebuilt_when_their_oslo_module_is_allowed():
    transport = make_transport(allowed_remote_exmods=['oslo_messaging.rpc.dispatcher'])
    with running_server(transport, [Endpoint()]):
        client = client_for(transport)
        with pytest.raises(messaging.NoSuchMethod):
            client.call({}, 'no_such_method')
        with pytest.raises(messaging.UnsupportedVersion):
            client.prepare(version='2.0').call({}, 'echo', value=1)


def test_namespace_and_version_select_the_endpoint():
    transport = make_transport()
    with running_server(transport, [Endpoint(), Versioned()]):
        client = client_for(transport)
        assert client.prepare(namespace='ns', version='1.1').call(
            {}, 'echo', value=1) == ('versioned', 1)
        assert client.call({}, 'echo', value=1) == 1
        with pytest.raises(messaging.UnsupportedVersion):
            client.prepare(namespace='ns', version='1.3').call({}, 'echo', value=1)


def test_expected_exception_is_logged_quietly_and_reaches_the_caller(caplog):
    transport = make_transport(allowed_remote_exmods=[__name__])
    caplog.set_level(logging.DEBUG, logger='messaging.rpc.server')
    with running_server(transport, [Endpoint()]):
        with pytest.raises(ExpectedError):
            client_for(transport).call({}, 'boom_expected')
    records = [r for r in caplog.records if r.name == 'messaging.rpc.server'
               and 'during message handling' in r.getMessage()]
    assert [(r.levelno, r.exc_info) for r in records] == [(logging.DEBUG, None)]
    assert records[0].getMessage().startswith('Expected exception during message handling')


def test_unexpected_exception_is_logged_with_traceback(caplog):
    transport = make_transport()
    with running_server(transport, [Endpoint()]):
        with pytest.raises(ValueError):
            client_for(transport).call({}, 'boom_value')
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    [error] = errors
    # oslo's text (operators grep for it); which request it was is in the record.
    assert error.getMessage() == 'Exception during message handling'
    assert error.method == 'boom_value' and error.msg_id
    assert errors[0].exc_info[0] is ValueError


def test_arguments_not_matching_the_method_fail_back_and_the_server_survives():
    transport = make_transport()
    with running_server(transport, [Endpoint()]):
        client = client_for(transport)
        with pytest.raises(TypeError, match='unexpected keyword'):
            client.call({}, 'echo', value=1, extra=2)
        assert client.call({}, 'echo', value=2) == 2


def test_prepare_server_reaches_that_server_only():
    transport = make_transport()
    with running_server(transport, [Endpoint('s1')], server='s1'), \
            running_server(transport, [Endpoint('s2')], server='s2'):
        client = client_for(transport)
        assert {client.prepare(server='s2').call({}, 'whoami') for _ in range(6)} == {'s2'}
        assert {client.prepare(server='s1').call({}, 'whoami') for _ in range(6)} == {'s1'}


def test_fanout_cast_reaches_every_server():
    transport = make_transport()
    first, second = Endpoint('s1'), Endpoint('s2')
    with running_server(transport, [first], server='s1'), \
            running_server(transport, [second], server='s2'):
        client_for(transport).prepare(fanout=True).cast({}, 'remember', value='all')
        assert first.cast_seen.wait(WAIT) and second.cast_seen.wait(WAIT)
    assert first.cast_args == second.cast_args == ['all']


def test_exchanges_are_kept_apart():
    transport = make_transport()
    with running_server(transport, [Endpoint()], exchange='exchange-a'):
        client = client_for(transport, timeout=0.2)
        with pytest.raises(messaging.MessagingTimeout):
            client.prepare(exchange='exchange-b').call({}, 'whoami')
        assert client.prepare(exchange='exchange-a').call({}, 'whoami') == 'server-1'


def test_prepare_timeout_bounds_a_slow_call():
    release = threading.Event()

    class Slow:
        def slow(self, ctxt):
            release.wait(WAIT)

    transport = make_transport()
    with running_server(transport, [Slow()]):
        try:
            with pytest.raises(messaging.MessagingTimeout):
                client_for(transport).prepare(timeout=0.2).call({}, 'slow')
        finally:
            release.set()


def test_stop_lets_calls_in_flight_finish_and_reply():
    started, release = threading.Event(), threading.Event()

    class Slow:
        def slow(self, ctxt):
            started.set()
            release.wait(WAIT)
            return 'finished' if release.is_set() else 'not released'

    transport = make_transport()
    server = messaging.get_rpc_server(transport, messaging.Target(topic=TOPIC, server='s'),
                                      [Slow()])
    server.start()
    results = []
    caller = threading.Thread(target=lambda: results.append(
        client_for(transport).call({}, 'slow')))
    caller.start()
    assert started.wait(WAIT)
    stopper = threading.Thread(target=server.stop)
    stopper.start()
    stopper.join(WAIT)
    assert not stopper.is_alive()
    release.set()
    caller.join(WAIT)
    assert results == ['finished']
    waiter = threading.Thread(target=server.wait)
    waiter.start()
    waiter.join(WAIT)
    assert not waiter.is_alive()


def test_heartbeats_keep_a_call_longer_than_call_monitor_timeout_alive():
    never = threading.Event()

    class Slow:
        def slow(self, ctxt):
            never.wait(2.5)
            return 2

    transport = make_transport()
    with running_server(transport, [Slow()]):
        client = client_for(transport, timeout=WAIT, call_monitor_timeout=2)
        assert client.call({}, 'slow') == 2


def test_ping_answers_pong_when_enabled():
    transport = make_transport(rpc_ping_enabled=True)
    with running_server(transport, [Endpoint()]):
        assert client_for(transport).call({}, 'oslo_rpc_server_ping') == 'pong'


def test_ping_is_unknown_when_not_enabled():
    transport = make_transport()
    with running_server(transport, [Endpoint()]):
        with pytest.raises(messaging.NoSuchMethod):
            client_for(transport).call({}, 'oslo_rpc_server_ping')


def test_serializers_convert_both_ways():
    class Point:
        def __init__(self, x):
            self.x = x

    class PointSerializer(messaging.NoOpSerializer):
        def serialize_entity(self, ctxt, entity):
            return {'point': entity.x} if isinstance(entity, Point) else entity

        def deserialize_entity(self, ctxt, entity):
            return Point(entity['point']) if isinstance(entity, dict) else entity

    class Mover:
        def move(self, ctxt, point):
            return Point(point.x + 1)

    transport = make_transport()
    with running_server(transport, [Mover()], serializer=PointSerializer()):
        client = client_for(transport, serializer=PointSerializer())
        assert client.call({}, 'move', point=Point(1)).x == 2


def test_explicit_access_policy_is_passed_to_the_dispatcher():
    transport = make_transport()
    with running_server(transport, [Endpoint()],
                        access_policy=messaging.ExplicitRPCAccessPolicy) as server:
        with pytest.raises(messaging.NoSuchMethod):
            client_for(transport).call({}, 'echo', value=1)
    assert isinstance(server.dispatcher.access_policy, messaging.ExplicitRPCAccessPolicy)


def test_unknown_executor_is_refused():
    with pytest.raises(messaging.ExecutorLoadFailure):
        messaging.get_rpc_server(make_transport(), messaging.Target(topic=TOPIC, server='s'),
                                 [Endpoint()], executor='no-such-executor')


def test_executor_none_means_threading_and_server_cls_is_used():
    class MyServer(messaging.rpc.server.RPCServer):
        pass

    server = messaging.get_rpc_server(make_transport(),
                                      messaging.Target(topic=TOPIC, server='s'),
                                      [Endpoint()], executor=None, server_cls=MyServer)
    assert type(server) is MyServer and server.executor_type == 'threading'


def test_server_needs_topic_and_server():
    server = messaging.get_rpc_server(make_transport(), messaging.Target(topic=TOPIC),
                                      [Endpoint()])
    with pytest.raises(messaging.InvalidTarget):
        server.start()
