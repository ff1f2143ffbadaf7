"""Servers of both libraries share a topic under the queue options deployments use.

RabbitMQ refuses (406) a declaration of an existing queue or exchange with
other flags or arguments, so a mixed server group only works if both
libraries declare every shared entity identically for the same options
(WIRE.md 4). For each option set, one library's server declares first and
the other's second, on a topic of their own; then clients of both libraries,
with the same options, call each server and fanout to both.
"""
from __future__ import annotations

from dataclasses import dataclass

import pytest

from tests.interop.harness import unique_name

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
}
CASES = [(name, first) for name in OPTIONS for first in LIBRARIES]


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
        query = OPTIONS[name]
        url = module_peers.url + (('&' if '?' in module_peers.url else '?') + query
                                  if query else '')
        case = Case(url, unique_name('dx'), unique_name('decl'), first)
        module_peers.cleanup.exchange(case.exchange)
        module_peers.cleanup.exchange('%s_fanout' % case.topic)
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
            {'event': 'start_failed', 'topic': case.topic}), lib
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
