"""Both libraries share queues under the queue options deployments use.

RabbitMQ refuses (406) a declaration of an existing queue or exchange with
other flags or arguments, so mixing the libraries only works if both declare
every shared entity identically for the same options (WIRE.md 4). For each
option set, on names of its own: one library's RPC server declares first and
the other's second, then clients of both libraries (same options) call each
server and fanout to both; and a listener (with and without a pool) of one
library declares first, then the other library's notifier declares the same
notification queue and sends.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from tests.functional.conftest import rabbitmqctl
from tests.interop.harness import KOLLA_QUERY, RUN_HOSTNAME, unique_name, with_query

pytestmark = pytest.mark.interop

LIBRARIES = ['ours', 'oslo']
QUORUM = 'rabbit_quorum_queue=true&rabbit_transient_quorum_queue=true'
OPTIONS = {
    'defaults': '',
    'durable': 'amqp_durable_queues=true',
    'auto-delete': 'amqp_auto_delete=true',
    'quorum': QUORUM,
    'quorum limits': QUORUM + ('&rabbit_quorum_delivery_limit=5'
                               '&rabbit_quorum_max_memory_length=100'
                               '&rabbit_quorum_max_memory_bytes=100000'),
    'ha, no ttl': 'rabbit_ha_queues=true&rabbit_transient_queues_ttl=0',
    'ttl 60': 'rabbit_transient_queues_ttl=60',
    # x-cancel-on-ha-failover on classic queues. (On quorum queues RabbitMQ
    # refuses it: oslo.messaging then consumes nothing, ours leaves it out.)
    'cancel on failover': 'enable_cancel_on_failover=true',
    # Quorum queues, stream fanout and the queue manager, as Kolla-Ansible
    # deploys them, and with quorum limits on top.
    'kolla': KOLLA_QUERY,
    'kolla limits': KOLLA_QUERY + ('&rabbit_quorum_delivery_limit=5'
                                   '&rabbit_quorum_max_memory_length=100'
                                   '&rabbit_quorum_max_memory_bytes=100000'),
}
CASES = [(name, first) for name in OPTIONS for first in LIBRARIES]
NOTIFY_CASES = [(name, listener) for name in ('defaults', 'durable', 'auto-delete', 'quorum',
                                               'ha, no ttl', 'kolla limits')
                for listener in LIBRARIES]


def with_options(url: str, name: str) -> str:
    return with_query(url, OPTIONS[name])


@dataclass
class Case:
    url: str
    exchange: str
    topic: str
    first: str  # the library whose server declares first


@pytest.fixture(scope='module')
def cases(module_peers) -> dict:
    cases = {}
    for name, first in CASES:
        case = Case(with_options(module_peers.url, name), unique_name('dx'),
                    unique_name('decl'), first)
        module_peers.cleanup.exchange(case.exchange)
        module_peers.cleanup.exchange('%s_fanout' % case.topic)
        module_peers.cleanup.queue('%s_fanout' % case.topic)  # a stream (kolla)
        module_peers.cleanup.queue(case.topic)
        for lib in LIBRARIES:
            module_peers.cleanup.queue('%s.%s' % (case.topic, lib))
        cases[name, first] = case
    return cases


@pytest.fixture(scope='module')
def servers(module_peers, cases) -> dict:
    """``(case key, library) -> peer``: our first-declaring servers start, then
    all oslo servers in one process, then our second-declaring servers."""
    def start(lib, keys):
        return module_peers.start(lib, 'rpc-server', {
            'exchange': unique_name('unused'),
            'servers': [{'topic': cases[key].topic, 'server': lib, 'url': cases[key].url,
                         'exchange': cases[key].exchange} for key in keys]})

    ours_first = [key for key in cases if cases[key].first == 'ours']
    ours_second = [key for key in cases if cases[key].first == 'oslo']
    peers = {}
    for lib, keys in (('ours', ours_first), ('oslo', list(cases)), ('ours', ours_second)):
        peer = start(lib, keys)
        peers.update({(key, lib): peer for key in keys})
    return peers


@pytest.fixture(scope='module')
def clients(module_peers) -> dict:
    return {lib: module_peers.start(lib, 'rpc-client', {'exchange': unique_name('unused')})
            for lib in LIBRARIES}


@pytest.mark.parametrize('name, first', CASES, ids=['%s, %s first' % c for c in CASES])
def test_servers_of_both_libraries_share_a_topic(name, first, cases, servers, clients):
    case = cases[name, first]
    for lib in LIBRARIES:
        assert not servers[(name, first), lib].events.find(
            lambda e: e['event'] == 'start_failed' and e['spec']['topic'] == case.topic), lib
    for client_lib in LIBRARIES:
        for server_lib in LIBRARIES:
            target = {'topic': case.topic, 'server': server_lib, 'exchange': case.exchange}
            reply = clients[client_lib].request({
                'op': 'call', 'url': case.url, 'target': target, 'method': 'echo',
                'args': {}, 'ctxt': {}, 'timeout': 10})
            assert reply['event'] == 'result', (client_lib, server_lib, reply)
            assert reply['result']['server'] == server_lib
        marker = unique_name('fanout')
        reply = clients[client_lib].request({
            'op': 'cast', 'url': case.url, 'target': {'topic': case.topic, 'fanout': True},
            'method': 'echo', 'args': {'marker': marker}, 'ctxt': {}})
        assert reply['event'] == 'result', reply
        for server_lib in LIBRARIES:
            servers[(name, first), server_lib].events.take(
                {'event': 'invoked', 'args': {'marker': marker}}, timeout=10)


@dataclass
class NotifyCase:
    url: str
    exchange: str
    topic: str
    pool: str


@pytest.fixture(scope='module')
def notify_cases(module_peers) -> dict:
    cases = {}
    for name, listener in NOTIFY_CASES:
        case = NotifyCase(with_options(module_peers.url, name), unique_name('dnx'),
                          unique_name('decl_note'), unique_name('decl_pool'))
        module_peers.cleanup.exchange(case.exchange)
        module_peers.cleanup.queue('%s.info' % case.topic)
        module_peers.cleanup.queue(case.pool)
        cases[name, listener] = case
    return cases


@pytest.fixture(scope='module')
def listeners(module_peers, notify_cases) -> dict:
    """Per library, a listener with and one without a pool for each of its cases."""
    def config(lib):
        return {'exchange': unique_name('unused'), 'listeners': [
            {'name': name, 'topics': [case.topic], 'pool': pool, 'url': case.url,
             'exchange': case.exchange,
             'endpoints': [{'name': 'pooled' if pool else 'plain', 'priorities': ['info']}]}
            for (name, listener), case in notify_cases.items() if listener == lib
            for pool in (None, case.pool)]}
    return {lib: module_peers.start(lib, 'listener', config(lib)) for lib in LIBRARIES}


@pytest.fixture(scope='module')
def notifiers(module_peers) -> dict:
    return {lib: module_peers.start(lib, 'notifier', {'exchange': unique_name('unused')})
            for lib in LIBRARIES}


@pytest.mark.parametrize('name, listener', NOTIFY_CASES,
                         ids=['%s, %s listener' % c for c in NOTIFY_CASES])
def test_notifications_reach_the_other_librarys_listeners(name, listener, notify_cases,
                                                          listeners, notifiers):
    case = notify_cases[name, listener]
    events = listeners[listener].events
    assert not events.find(lambda e: e['event'] == 'start_failed'
                           and e['spec']['topics'] == [case.topic])
    notifier = notifiers['oslo' if listener == 'ours' else 'ours']
    marker = unique_name('note')
    reply = notifier.request({
        'op': 'notify', 'url': case.url, 'exchange': case.exchange, 'driver': 'messagingv2',
        'topic': case.topic, 'priority': 'info', 'event_type': 'decl.test',
        'publisher_id': 'decl', 'payload': {'marker': marker}, 'ctxt': None})
    assert reply['event'] == 'notified', reply
    for endpoint in ('plain', 'pooled'):
        events.take({'event': 'notification', 'endpoint': endpoint,
                     'payload': {'marker': marker}}, timeout=10)


@pytest.mark.parametrize('joiner', ['ours', 'oslo'])
def test_a_durable_server_joins_a_topic_declared_non_durable(joiner, peers):
    """During a rolling switch to ``amqp_durable_queues=true``, a switched
    server and client still work with the entities old servers declared."""
    exchange, topic = unique_name('fx'), unique_name('fallback')
    peers.cleanup.exchange(exchange)
    peers.cleanup.exchange('%s_fanout' % topic)
    for name in (topic, '%s.old' % topic, '%s.new' % topic):
        peers.cleanup.queue(name)
    peers.start('oslo', 'rpc-server', {'exchange': exchange,
                                       'servers': [{'topic': topic, 'server': 'old'}]})
    durable = with_options(peers.url, 'durable')
    new = peers.start(joiner, 'rpc-server', {'exchange': exchange, 'url': durable,
                                             'servers': [{'topic': topic, 'server': 'new'}]})
    assert not new.events.find({'event': 'start_failed'}), new.events.find({})
    client = peers.start(joiner, 'rpc-client', {'exchange': exchange, 'url': durable})
    for server in ('old', 'new'):
        reply = client.request({'op': 'call', 'target': {'topic': topic, 'server': server},
                                'method': 'echo', 'args': {}, 'ctxt': {}, 'timeout': 5})
        assert reply['event'] == 'result', reply
        assert reply['result']['server'] == server


def broker_view(kind: str, names: list[str]) -> dict:
    """``name -> (type, durable, auto_delete, arguments)`` of the broker's
    queues or exchanges among ``names``, argument types included."""
    columns = ['name', 'durable', 'auto_delete', 'arguments'] + (
        ['type'] if kind == 'exchanges' else [])
    listed = json.loads(rabbitmqctl('list_' + kind, *columns, '--formatter', 'json'))
    return {entity['name']: (entity.get('type'), entity['durable'], entity['auto_delete'],
                             sorted(map(tuple, entity['arguments'])))
            for entity in listed if entity['name'] in names}


def test_both_libraries_declare_every_entity_alike_under_kolla(peers):
    """What each library declares on its own topic, as the broker has it:
    topic, server and fanout (stream) queues, the exchanges and the reply
    queue must be the same, or a mixed fleet meets 406 PRECONDITION_FAILED."""
    url = with_options(peers.url, 'kolla limits')
    exchange = peers.cleanup.exchange(unique_name('kx'))
    topics = {lib: unique_name('kolla_%s' % lib) for lib in LIBRARIES}
    replies = {}
    for lib, topic in topics.items():
        peers.cleanup.exchange(topic + '_fanout')
        for queue in (topic, topic + '.' + lib, topic + '_fanout'):
            peers.cleanup.queue(queue)
        peers.start(lib, 'rpc-server', {'exchange': exchange, 'url': url,
                                        'servers': [{'topic': topic, 'server': lib}]})
        client = peers.start(lib, 'rpc-client', {'exchange': exchange, 'url': url})
        reply = client.request({'op': 'call', 'target': {'topic': topic}, 'method': 'echo',
                                'args': {}, 'ctxt': {}, 'timeout': 10})
        assert reply['event'] == 'result', reply
        [replies[lib]] = client.request({'op': 'reply_queues'})['queues']

    def declared(lib):
        topic = topics[lib]
        queues = broker_view('queues', [topic, topic + '.' + lib, topic + '_fanout',
                                        replies[lib]])
        exchanges = broker_view('exchanges', [exchange, topic + '_fanout'])
        return {'topic queue': queues[topic], 'server queue': queues[topic + '.' + lib],
                'fanout stream': queues[topic + '_fanout'],
                'reply queue': queues[replies[lib]],
                'fanout exchange': exchanges[topic + '_fanout'],
                'topic exchange': exchanges[exchange]}

    ours, oslo = declared('ours'), declared('oslo')
    assert ours == oslo
    assert ours['fanout stream'][3] == [('x-max-age', 'longstr', '1800s'),
                                        ('x-queue-type', 'longstr', 'stream')]
    assert replies['ours'].startswith('reply_%s:' % RUN_HOSTNAME)
    assert replies['oslo'].startswith('reply_%s:oslo_peer.py:' % RUN_HOSTNAME)
