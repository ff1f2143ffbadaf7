"""RPCDispatcher: endpoint selection, access policies, serializers, call monitor."""
from __future__ import annotations

import threading

import pytest

import messaging
from messaging.rpc import dispatcher as rpc_dispatcher
from tests.unit.test_rpc_support import RecordingIncoming


class Plain:
    """No target: version 1.0, no namespace."""

    def echo(self, ctxt, value):
        return ('plain', value)

    def _secret(self, ctxt):
        return 'secret'


class Versioned:
    target = messaging.Target(namespace='ns', version='1.3')

    def echo(self, ctxt, value):
        return ('versioned', value)


class Renamed:
    target = messaging.Target(namespace='new', legacy_namespaces=['old'])

    def echo(self, ctxt, value):
        return ('renamed', value)


class Exposing:
    @messaging.expose
    def shown(self, ctxt):
        return 'shown'

    def hidden(self, ctxt):
        return 'hidden'


def dispatch(endpoints, method, args=None, access_policy=None, serializer=None,
             **fields):
    message = dict(method=method, args=args or {}, **fields)
    return rpc_dispatcher.RPCDispatcher(endpoints, serializer, access_policy).dispatch(
        RecordingIncoming(message))


def test_request_without_namespace_or_version_reaches_plain_endpoint():
    assert dispatch([Versioned(), Plain()], 'echo', {'value': 1}) == ('plain', 1)


@pytest.mark.parametrize('version', ['1.0', '1.2', '1.3'])
def test_compatible_version_in_namespace_reaches_endpoint(version):
    result = dispatch([Plain(), Versioned()], 'echo', {'value': 2}, namespace='ns',
                      version=version)
    assert result == ('versioned', 2)


@pytest.mark.parametrize('version', ['1.4', '2.0', '0.9'])
def test_incompatible_version_raises_unsupported_version(version):
    with pytest.raises(messaging.UnsupportedVersion) as raised:
        dispatch([Versioned()], 'echo', namespace='ns', version=version)
    assert str(raised.value) == ('Endpoint does not support RPC version %s. '
                                 'Attempted method: echo' % version)
    assert (raised.value.version, raised.value.method) == (version, 'echo')


def test_unknown_namespace_raises_unsupported_version():
    with pytest.raises(messaging.UnsupportedVersion):
        dispatch([Plain(), Versioned()], 'echo', namespace='elsewhere')


def test_namespaced_endpoint_does_not_answer_requests_without_namespace():
    with pytest.raises(messaging.UnsupportedVersion):
        dispatch([Versioned(), Renamed()], 'echo', {'value': 1})


@pytest.mark.parametrize('namespace', ['new', 'old'])
def test_legacy_namespace_reaches_endpoint(namespace):
    assert dispatch([Renamed()], 'echo', {'value': 3},
                    namespace=namespace) == ('renamed', 3)


def test_missing_method_in_matching_endpoint_raises_no_such_method():
    with pytest.raises(messaging.NoSuchMethod) as raised:
        dispatch([Plain()], 'nothing_here')
    assert str(raised.value) == 'Endpoint does not support RPC method nothing_here'
    assert raised.value.method == 'nothing_here'
    assert isinstance(raised.value, AttributeError)


def test_first_matching_endpoint_with_the_method_wins():
    class Other:
        def other(self, ctxt):
            return 'other'

    class Second(Plain):
        def echo(self, ctxt, value):
            return ('second', value)

    assert dispatch([Other(), Plain(), Second()], 'echo', {'value': 0}) == ('plain', 0)
    assert dispatch([Other(), Second()], 'echo', {'value': 0}) == ('second', 0)


def test_default_policy_refuses_private_methods():
    with pytest.raises(messaging.NoSuchMethod):
        dispatch([Plain()], '_secret')
    with pytest.raises(messaging.NoSuchMethod):
        dispatch([Plain()], '__class__')


def test_legacy_policy_allows_private_methods():
    assert dispatch([Plain()], '_secret',
                    access_policy=messaging.LegacyRPCAccessPolicy) == 'secret'


def test_explicit_policy_allows_only_exposed_methods():
    policy = messaging.ExplicitRPCAccessPolicy
    assert dispatch([Exposing()], 'shown', access_policy=policy) == 'shown'
    with pytest.raises(messaging.NoSuchMethod):
        dispatch([Exposing()], 'hidden', access_policy=policy)
    assert dispatch([Exposing()], 'hidden') == 'hidden'


@pytest.mark.parametrize('policy', [messaging.DefaultRPCAccessPolicy(), object, 'default'])
def test_access_policy_must_be_a_policy_class(policy):
    with pytest.raises(TypeError):
        rpc_dispatcher.RPCDispatcher([Plain()], None, policy)


def test_endpoint_target_must_be_a_target():
    class Bad:
        def target(self, ctxt):
            return 'not a Target'

    with pytest.raises(TypeError, match='reserved'):
        rpc_dispatcher.RPCDispatcher([Bad()], None)


def test_non_string_method_is_no_such_method():
    with pytest.raises(messaging.NoSuchMethod):
        dispatch([Plain()], None)


def test_arguments_not_matching_the_signature_raise_type_error():
    with pytest.raises(TypeError, match='unexpected'):
        dispatch([Plain()], 'echo', {'value': 1, 'extra': 2})
    with pytest.raises(TypeError, match='missing'):
        dispatch([Plain()], 'echo')


def test_ping_is_served_only_once_enabled():
    dispatcher = rpc_dispatcher.RPCDispatcher([Plain()], None)
    incoming = RecordingIncoming({'method': 'oslo_rpc_server_ping', 'args': {}})
    with pytest.raises(messaging.NoSuchMethod):
        dispatcher.dispatch(incoming)
    dispatcher._enable_ping()
    dispatcher._enable_ping()
    assert dispatcher.dispatch(incoming) == 'pong'
    assert len(dispatcher.endpoints) == 2


def test_endpoints_is_the_list_given_as_in_oslo():
    endpoints = [Plain()]
    assert rpc_dispatcher.RPCDispatcher(endpoints, None).endpoints is endpoints


def test_serializer_deserializes_context_and_arguments_and_serializes_result():
    class Serializer(messaging.NoOpSerializer):
        def deserialize_context(self, ctxt):
            return {'wrapped': ctxt['user']}

        def deserialize_entity(self, ctxt, entity):
            return (ctxt['wrapped'], entity)

        def serialize_entity(self, ctxt, entity):
            return {'out': entity}

    class Seen:
        def look(self, ctxt, a):
            return (ctxt, a)

    incoming = RecordingIncoming({'method': 'look', 'args': {'a': 1}}, {'user': 'u'})
    result = rpc_dispatcher.RPCDispatcher([Seen()], Serializer()).dispatch(incoming)
    assert result == {'out': ({'wrapped': 'u'}, ('u', 1))}


def test_expected_exceptions_wraps_listed_exceptions_and_their_subclasses():
    @messaging.expected_exceptions(LookupError)
    def fails(error):
        raise error

    with pytest.raises(messaging.ExpectedException) as raised:
        fails(KeyError('k'))
    exc_type, exc_value, trace = raised.value.exc_info
    assert exc_type is KeyError and exc_value.args == ('k',) and trace is not None
    with pytest.raises(ValueError):
        fails(ValueError('not expected'))


def test_expected_exceptions_keeps_the_method_name_and_expose_mark():
    class Endpoint:
        @messaging.expected_exceptions(ValueError)
        @messaging.expose
        def method(self, ctxt):
            return 'ok'

    assert Endpoint.method.__name__ == 'method'
    assert dispatch([Endpoint()], 'method',
                    access_policy=messaging.ExplicitRPCAccessPolicy) == 'ok'


class Blocking:
    """A method that runs until a heartbeat is sent, or ``wait`` seconds."""

    def __init__(self) -> None:
        self.incoming = None
        self.threads_seen: list[str] = []

    def run(self, ctxt, wait):
        self.threads_seen = [t.name for t in threading.enumerate()]
        self.incoming.heartbeat_seen.wait(wait)
        return self.incoming.heartbeats


def run_monitored(client_timeout, wait):
    endpoint = Blocking()
    incoming = RecordingIncoming({'method': 'run', 'args': {'wait': wait}},
                                 client_timeout=client_timeout)
    endpoint.incoming = incoming
    result = rpc_dispatcher.RPCDispatcher([endpoint], None).dispatch(incoming)
    return result, endpoint


def test_monitored_call_sends_heartbeats_every_half_client_timeout():
    heartbeats, endpoint = run_monitored(client_timeout=2, wait=3)
    assert heartbeats == 1
    assert 'messaging-call-monitor' in endpoint.threads_seen


@pytest.mark.parametrize('client_timeout', [None, 0, 1, 'soon'])
def test_no_heartbeats_unless_client_asked_for_at_least_two_seconds(client_timeout):
    heartbeats, endpoint = run_monitored(client_timeout, wait=0)
    assert heartbeats == 0
    assert 'messaging-call-monitor' not in endpoint.threads_seen


def test_no_monitor_thread_left_after_the_call():
    run_monitored(client_timeout=30, wait=0)
    assert 'messaging-call-monitor' not in [t.name for t in threading.enumerate()]


def test_failed_heartbeat_stops_heartbeats_but_not_the_method():
    class Failing(RecordingIncoming):
        def heartbeat(self):
            self.heartbeats += 1
            raise messaging.MessageDeliveryFailure('reply queue gone')

    never = threading.Event()

    class Endpoint:
        def run(self, ctxt):
            # Runs for more than two heartbeat intervals: only one attempt
            # may be made.
            never.wait(2.3)
            return incoming.heartbeats

    incoming = Failing({'method': 'run', 'args': {}}, client_timeout=2)
    assert rpc_dispatcher.RPCDispatcher([Endpoint()], None).dispatch(incoming) == 1
