"""RPC between ``messaging`` and oslo.messaging 18.3.1 on RabbitMQ, both ways.

Each test runs once per direction where that is meaningful: ``ours->oslo``
(our client, an oslo.messaging server in another process) and
``oslo->ours``. The servers and clients of both libraries start once for the
module; every name is unique to the run and deleted at the end.
"""
from __future__ import annotations

from dataclasses import dataclass

import pytest

from tests.interop.harness import Peer, under_both_configurations, unique_name, with_query

pytestmark = [pytest.mark.interop, under_both_configurations]

CTXT = {'user': 'alice', 'project_id': 'p-1', 'request_id': 'req-\u00fc',
        'roles': ['admin', 'member'], 'nested': {'k': [1, None, 2.5]}}
ARGS = {'text': 'gr\u00fc\u00dfe \u2603 \u65e5\u672c', 'count': 3, 'ratio': 0.5,
        'flag': True, 'nothing': None, 'items': [1, 'two', [3.0, {'four': False}]],
        'tree': {'a': {'b': {'c': []}}, 'empty': {}}}
PEER_MODULE = ['peer_exceptions']
# Short retries of a reply whose queue is gone (WIRE.md 5.3), so that a
# server holding such a reply still stops promptly at the end of the module.
SERVER_URL_QUERY = 'kombu_missing_consumer_retry_timeout=2'
CALL_TIMEOUT = 10
DIRECTIONS = ['ours->oslo', 'oslo->ours', 'ours->ours']
LIBRARIES = ['ours', 'oslo']
PACKAGE = {'ours': 'messaging', 'oslo': 'oslo_messaging'}


@dataclass
class Names:
    exchange: str
    topics: dict  # server library ('ours'/'oslo') -> topic only it serves
    mixed: str  # topic served by one server of each library
    idle: str  # topic nobody serves

    def all_topics(self) -> list[str]:
        return list(self.topics.values()) + [self.mixed, self.idle]


SERVER_NAMES = {'ours': 'ours-a', 'oslo': 'oslo-a'}
MIXED_NAMES = {'ours': 'ours-m', 'oslo': 'oslo-m'}


@pytest.fixture(scope='module')
def names(module_peers) -> Names:
    names = Names(exchange=unique_name('x'),
                  topics={lib: unique_name('rpc_%s' % lib) for lib in LIBRARIES},
                  mixed=unique_name('rpc_mixed'), idle=unique_name('rpc_idle'))
    cleanup = module_peers.cleanup
    cleanup.exchange(names.exchange)
    for lib in LIBRARIES:
        for topic, server in ((names.topics[lib], SERVER_NAMES[lib]),
                              (names.mixed, MIXED_NAMES[lib])):
            cleanup.queue(topic)
            cleanup.queue('%s.%s' % (topic, server))
    for topic in names.all_topics():
        cleanup.exchange('%s_fanout' % topic)
        cleanup.queue('%s_fanout' % topic)  # the topic's stream, with stream fanout
    return names


@pytest.fixture(scope='module')
def servers(module_peers, names) -> dict:
    """Per library, one process serving its own topic and the mixed topic."""
    url = with_query(module_peers.url, SERVER_URL_QUERY)
    return {lib: module_peers.start(lib, 'rpc-server', {
        'url': url, 'exchange': names.exchange,
        'servers': [{'topic': names.topics[lib], 'server': SERVER_NAMES[lib]},
                    {'topic': names.mixed, 'server': MIXED_NAMES[lib]}]})
        for lib in LIBRARIES}


@pytest.fixture(scope='module')
def clients(module_peers, names) -> dict:
    return {lib: module_peers.start(lib, 'rpc-client', {'exchange': names.exchange})
            for lib in LIBRARIES}


def call(client: Peer, target: dict, method: str, args=None, ctxt=CTXT,
         timeout=CALL_TIMEOUT, **options) -> dict:
    """The client's reply event: ``result`` or ``exception`` (see describe_exception)."""
    return client.request(dict(options, op='call', target=target, method=method,
                               args=args or {}, ctxt=ctxt, timeout=timeout),
                          timeout=timeout + 20)


def cast(client: Peer, target: dict, method: str, args: dict, ctxt=CTXT) -> None:
    reply = client.request({'op': 'cast', 'target': target, 'method': method,
                            'args': args, 'ctxt': ctxt})
    assert reply['event'] == 'result', reply


@dataclass
class Route:
    """One direction: a client of one library, a server of the other."""
    client: Peer
    server: Peer
    client_library: str
    server_library: str
    topic: str
    server_name: str

    def call(self, method, args=None, target=None, **options) -> dict:
        return call(self.client, dict(target or {}, topic=self.topic), method, args,
                    **options)

    def result(self, method, args=None, **options):
        reply = self.call(method, args, **options)
        assert reply['event'] == 'result', reply
        return reply['result']

    def exception(self, method, args=None, **options) -> dict:
        reply = self.call(method, args, **options)
        assert reply['event'] == 'exception', reply
        return reply


@pytest.fixture(params=DIRECTIONS)
def route(request, clients, servers, names) -> Route:
    client_lib, server_lib = request.param.split('->')
    return Route(clients[client_lib], servers[server_lib], client_lib, server_lib,
                 names.topics[server_lib], SERVER_NAMES[server_lib])


JSON_VALUES = [
    None, True, False, 0, -17, 2 ** 53, 3.25, -0.5, 1.0, '', 'pl\u00e4in \u2603 \U0001f40d',
    [], {}, [1, 'two', None, 3.5, [True, {'x': []}]],
    {'a': {'b': {'c': [None, {'d': '\u00e9'}]}}, 'n': 1.5, 'f': False, 'z': None},
]


@pytest.mark.parametrize('value', JSON_VALUES, ids=repr)
def test_call_returns_every_json_type_unchanged(route, value):
    result = route.result('give', {'value': value})
    assert result == value
    assert type(result) is type(value)


def test_call_delivers_arguments_and_context_unchanged(route):
    assert route.result('echo', ARGS) == {
        'server': route.server_name, 'args': ARGS,
        'context': dict(CTXT, client_timeout=None)}


def test_cast_reaches_the_server_with_arguments_and_context(route):
    marker = unique_name('cast')
    cast(route.client, {'topic': route.topic}, 'echo', {'marker': marker})
    event = route.server.events.take({'event': 'invoked', 'args': {'marker': marker}})
    assert event['server'] == route.server_name
    assert event['context'] == dict(CTXT, client_timeout=None)


@pytest.mark.parametrize('client_library', LIBRARIES)
def test_fanout_cast_reaches_both_servers_of_a_mixed_group(client_library, clients,
                                                          servers, names):
    marker = unique_name('fanout')
    cast(clients[client_library], {'topic': names.mixed, 'fanout': True}, 'echo',
         {'marker': marker})
    for lib in LIBRARIES:
        event = servers[lib].events.take({'event': 'invoked', 'args': {'marker': marker}})
        assert event['server'] == MIXED_NAMES[lib]


@pytest.mark.parametrize('server_library', LIBRARIES)
@pytest.mark.parametrize('client_library', LIBRARIES)
def test_call_to_a_specific_server_of_a_mixed_group(client_library, server_library,
                                                   clients, servers, names):
    server = MIXED_NAMES[server_library]
    reply = call(clients[client_library], {'topic': names.mixed, 'server': server},
                 'echo', {'n': 1})
    assert reply['event'] == 'result', reply
    assert reply['result']['server'] == server


@pytest.mark.parametrize('client_library', LIBRARIES)
def test_calls_to_a_mixed_group_are_shared_by_both_servers(client_library, clients,
                                                          servers, names):
    served = [call(clients[client_library], {'topic': names.mixed}, 'echo', {'n': n})
              for n in range(8)]
    assert {reply['result']['server'] for reply in served} == set(MIXED_NAMES.values())


def test_call_with_version_and_namespace(route):
    result = route.result('versioned_echo', {'q': 1},
                          target={'version': '1.2', 'namespace': 'interop_ns'})
    assert result == {'server': route.server_name, 'namespace': 'interop_ns',
                      'version': '1.3', 'args': {'q': 1}}


def test_call_beyond_the_endpoint_version_is_refused(route):
    failure = route.exception('versioned_echo', target={'version': '1.4',
                                                        'namespace': 'interop_ns'})
    assert failure['class'] == 'RemoteError'
    assert failure['exc_type'] == 'UnsupportedVersion'
    assert failure['value'] == ('Endpoint does not support RPC version 1.4. '
                                'Attempted method: versioned_echo')


def test_call_to_an_unknown_method_is_refused(route):
    failure = route.exception('no_such_method')
    assert failure['class'] == 'RemoteError'
    assert failure['exc_type'] == 'NoSuchMethod'
    assert failure['value'] == 'Endpoint does not support RPC method no_such_method'


def test_dispatcher_failure_rebuilds_as_the_callers_own_class_when_allowed(route):
    failure = route.exception('no_such_method',
                              allowed_remote_exmods=['oslo_messaging.rpc.dispatcher'])
    assert failure['class'] == 'NoSuchMethod_Remote'
    assert '%s.rpc.dispatcher.NoSuchMethod' % PACKAGE[route.client_library] in failure['mro']


def test_builtin_exception_arrives_as_itself(route):
    failure = route.exception('fail_builtin', {'message': 'bad value'})
    assert (failure['module'], failure['class']) == ('builtins', 'ValueError')
    first, code = failure['args']
    assert first.startswith("('bad value', 42)\nTraceback (most recent call last):")
    assert code == 42


def test_custom_exception_from_an_allowed_module_arrives_as_its_class(route):
    failure = route.exception('fail_custom', {'message': 'boom'},
                              allowed_remote_exmods=PEER_MODULE)
    assert (failure['module'], failure['class']) == ('peer_exceptions_Remote',
                                                     'PeerError_Remote')
    assert 'peer_exceptions.PeerError' in failure['mro']
    assert failure['args'] == ['boom', 7]
    assert failure['kwargs'] == {'reason': 'custom'}
    assert failure['message'].startswith("('boom', 7)\nTraceback (most recent call last):")


def test_custom_exception_from_a_module_not_allowed_arrives_as_remote_error(route):
    failure = route.exception('fail_custom', {'message': 'boom'})
    assert failure['class'] == 'RemoteError'
    assert '%s.rpc.client.RemoteError' % PACKAGE[route.client_library] in failure['mro']
    assert (failure['exc_type'], failure['value']) == ('PeerError', "('boom', 7)")


def test_expected_exception_arrives_as_its_class(route):
    failure = route.exception('fail_expected', {'message': 'expected'},
                              allowed_remote_exmods=PEER_MODULE)
    assert failure['class'] == 'ExpectedPeerError_Remote'
    assert 'peer_exceptions.ExpectedPeerError' in failure['mro']
    assert failure['args'] == ['expected', 9]


@pytest.mark.parametrize('client_library', LIBRARIES)
def test_call_to_a_topic_without_server_times_out(client_library, clients, names):
    reply = call(clients[client_library], {'topic': names.idle}, 'echo', timeout=1)
    assert reply['event'] == 'exception', reply
    assert '%s.exceptions.MessagingTimeout' % PACKAGE[client_library] in reply['mro']


def test_call_monitoring_keeps_a_long_call_alive(route):
    # With call_monitor_timeout=2 the call fails unless some reply arrives
    # every 2 s: only the server's heartbeats can carry it through 4 s.
    result = route.result('slow', {'seconds': 4}, timeout=30, call_monitor_timeout=2)
    assert result == {'server': route.server_name, 'slept': 4, 'client_timeout': 2}


def test_long_call_without_call_monitoring_gets_no_heartbeat(route):
    # An oslo client that did not ask for call monitoring fails on a
    # heartbeat (WIRE.md 5.4): the server must send only the final reply.
    result = route.result('slow', {'seconds': 2}, timeout=30)
    assert result == {'server': route.server_name, 'slept': 2, 'client_timeout': None}


def test_reply_to_a_caller_that_went_away_does_not_stop_the_server(route, peers, names):
    caller = peers.start(route.client_library, 'rpc-client', {'exchange': names.exchange})
    assert call(caller, {'topic': route.topic}, 'echo')['event'] == 'result'
    gate = unique_name('gate')
    held = call(caller, {'topic': route.topic}, 'hold', {'gate': gate, 'limit': 30},
                timeout=1)
    assert 'MessagingTimeout' in held['class'], held
    route.server.events.take({'event': 'invoked', 'method': 'hold', 'args': {'gate': gate}})
    # The caller goes away with its reply queue, then the held method returns:
    # its reply finds no queue (basic.return NO_ROUTE).
    peers.stop(caller)
    peers.cleanup.run()
    route.server.request({'op': 'release', 'gate': gate})
    assert route.result('echo', {'after': gate})['args'] == {'after': gate}
