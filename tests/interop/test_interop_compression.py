"""Compressed bodies between ``messaging`` and oslo.messaging 18.3.1, both ways.

With ``kombu_compression=gzip`` a sender zlib-compresses the body and says so
in the ``compression`` header (WIRE.md 2.4); a receiver decompresses by that
header whatever its own setting. Here a server of each library compresses
its replies, and clients of the other library call it with and without
compressing their requests.
"""
from __future__ import annotations

import pytest

from tests.interop.harness import unique_name, with_query

pytestmark = pytest.mark.interop

LIBRARIES = ['ours', 'oslo']
GZIP_QUERY = 'kombu_compression=gzip'
ARGS = {'text': 'z\u00fcrich ' * 50, 'items': list(range(50)), 'nested': {'a': [None, True]}}


@pytest.fixture(scope='module')
def exchange(module_peers) -> str:
    return module_peers.cleanup.exchange(unique_name('zx'))


@pytest.fixture(scope='module')
def topics(module_peers) -> dict:
    topics = {lib: unique_name('gzip_%s' % lib) for lib in LIBRARIES}
    for lib, topic in topics.items():
        module_peers.cleanup.queue(topic)
        module_peers.cleanup.queue('%s.gz-%s' % (topic, lib))
        module_peers.cleanup.exchange('%s_fanout' % topic)
    return topics


@pytest.fixture(scope='module')
def servers(module_peers, exchange, topics) -> dict:
    url = with_query(module_peers.url, GZIP_QUERY)
    return {lib: module_peers.start(lib, 'rpc-server', {
        'url': url, 'exchange': exchange,
        'servers': [{'topic': topics[lib], 'server': 'gz-%s' % lib}]}) for lib in LIBRARIES}


@pytest.fixture(scope='module')
def clients(module_peers, exchange) -> dict:
    """Per (library, compression of its requests)."""
    urls = {'plain': module_peers.url, 'gzip': with_query(module_peers.url, GZIP_QUERY)}
    return {(lib, kind): module_peers.start(lib, 'rpc-client', {'url': url,
                                                                'exchange': exchange})
            for lib in LIBRARIES for kind, url in urls.items()}


@pytest.mark.parametrize('requests', ['plain', 'gzip'])
@pytest.mark.parametrize('direction', ['ours->oslo', 'oslo->ours'])
def test_call_to_a_compressing_server_of_the_other_library(direction, requests, clients,
                                                           servers, topics):
    client_lib, server_lib = direction.split('->')
    reply = clients[(client_lib, requests)].request({
        'op': 'call', 'target': {'topic': topics[server_lib]}, 'method': 'echo',
        'args': ARGS, 'ctxt': {'user': 'z'}, 'timeout': 10})
    assert reply['event'] == 'result', reply
    assert reply['result'] == {'server': 'gz-%s' % server_lib, 'args': ARGS,
                               'context': {'user': 'z', 'client_timeout': None}}
