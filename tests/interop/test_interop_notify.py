"""Notifications between ``messaging`` and oslo.messaging 18.3.1 on RabbitMQ.

Each test runs per direction: ``ours->oslo`` (our Notifier, an oslo.messaging
listener in another process) and ``oslo->ours``, with both notifier drivers
where the format matters (``messaging`` sends bare 1.0 bodies,
``messagingv2`` the 2.0 envelope). Listeners and notifiers start once for
the module; every name is unique to the run and deleted at the end.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

from peer_endpoints import PRIORITIES
from tests.interop.harness import Peer, merged, under_both_configurations, unique_name

pytestmark = [pytest.mark.interop, under_both_configurations]

LIBRARIES = ['ours', 'oslo']
DIRECTIONS = ['ours->oslo', 'oslo->ours', 'ours->ours']
DRIVERS = ['messaging', 'messagingv2']
PUBLISHER = 'compute.host-1'
CTXT = {'user': 'alice', 'project_id': 'p-1', 'request_id': 'req-\u00fc',
        'auth_token': 'secret-token', 'roles': ['reader']}
# What a listener gets: the notifier redacts the token; the listener adds
# client_timeout, as for RPC (WIRE.md 7.3, 7.6).
RECEIVED_CTXT = dict(CTXT, auth_token=None, client_timeout=None)
PAYLOAD = {'state': 'active', 'size': 1.5, 'tags': ['a', '\u00e9'], 'none': None,
           'nested': {'ok': True, 'list': [1, {'x': []}]}}
FILTER = {'publisher_id': r'^compute\.', 'event_type': r'^instance\.create\.',
          'payload': {'state': '^active$'}, 'context': {'user': '^alice$'}}
MESSAGE_ID = re.compile(r'^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$')
TIMESTAMP = re.compile(r'^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{6})?$')


@dataclass
class Names:
    exchange: str
    topics: dict  # listener library -> topic its main listener consumes
    pool_topic: str  # topic both libraries' pool listeners consume
    pools: dict  # listener library -> its pool name
    joint_topic: str  # topic of the pool both libraries' listeners share
    joint_pool: str


@pytest.fixture(scope='module')
def names(module_peers) -> Names:
    names = Names(exchange=unique_name('nx'),
                  topics={lib: unique_name('notify_%s' % lib) for lib in LIBRARIES},
                  pool_topic=unique_name('notify_pool'),
                  pools={lib: unique_name('pool_%s' % lib) for lib in LIBRARIES},
                  joint_topic=unique_name('notify_joint'), joint_pool=unique_name('joint'))
    cleanup = module_peers.cleanup
    cleanup.exchange(names.exchange)
    for topic in list(names.topics.values()) + [names.pool_topic, names.joint_topic]:
        for priority in PRIORITIES:
            cleanup.queue('%s.%s' % (topic, priority))
    for pool in list(names.pools.values()) + [names.joint_pool]:
        cleanup.queue(pool)
    return names


@pytest.fixture(scope='module')
def listeners(module_peers, names) -> dict:
    """Per library: a requeueing listener whose filtered endpoint comes first,
    a listener in a pool of its own and one in the pool both libraries share."""
    def config(lib):
        return {'exchange': names.exchange, 'listeners': [
            {'name': 'main', 'topics': [names.topics[lib]], 'allow_requeue': True,
             'endpoints': [{'name': 'filtered', 'priorities': ['info'], 'filter': FILTER},
                           {'name': 'all', 'priorities': list(PRIORITIES)}]},
            {'name': 'pool', 'topics': [names.pool_topic], 'pool': names.pools[lib],
             'endpoints': [{'name': 'pooled', 'priorities': ['info']}]},
            {'name': 'joint', 'topics': [names.joint_topic], 'pool': names.joint_pool,
             'endpoints': [{'name': 'joint', 'priorities': ['info']}]},
        ]}
    return {lib: module_peers.start(lib, 'listener', config(lib)) for lib in LIBRARIES}


@pytest.fixture(scope='module')
def notifiers(module_peers, names) -> dict:
    return {lib: module_peers.start(lib, 'notifier', {'exchange': names.exchange})
            for lib in LIBRARIES}


def notify(notifier: Peer, topic: str, priority: str = 'info', driver='messagingv2',
           event_type='instance.create.end', payload=None, ctxt=CTXT, ctxt_kind='object',
           publisher_id=PUBLISHER, datetime_keys=()) -> None:
    reply = notifier.request({'op': 'notify', 'driver': driver, 'topic': topic,
                              'priority': priority, 'event_type': event_type,
                              'payload': payload, 'ctxt': ctxt, 'ctxt_kind': ctxt_kind,
                              'publisher_id': publisher_id,
                              'datetime_keys': list(datetime_keys)})
    assert reply['event'] == 'notified', reply


class marked:
    """Matches the notifications ``endpoint`` received with ``payload.marker``."""

    def __init__(self, marker: str, endpoint: str = 'all') -> None:
        self.marker = marker
        self.endpoint = endpoint

    def __call__(self, event: dict) -> bool:
        payload = event.get('payload')
        return (event['event'] == 'notification' and event['endpoint'] == self.endpoint
                and isinstance(payload, dict) and payload.get('marker') == self.marker)

    def __repr__(self) -> str:
        return 'notification to endpoint %r with marker %r' % (self.endpoint, self.marker)


@dataclass
class Route:
    notifier: Peer
    listener: Peer
    topic: str


@pytest.fixture(params=DIRECTIONS)
def route(request, notifiers, listeners, names) -> Route:
    notifier_lib, listener_lib = request.param.split('->')
    return Route(notifiers[notifier_lib], listeners[listener_lib], names.topics[listener_lib])


@pytest.mark.parametrize('driver', DRIVERS)
def test_notifications_arrive_at_every_priority(route, driver):
    marker = unique_name('prio')
    for priority in PRIORITIES:
        notify(route.notifier, route.topic, priority, driver, 'interop.%s' % priority,
               dict(PAYLOAD, marker=marker, priority=priority))
    received = {e['priority']: e for e in route.listener.events.take_many(
        marked(marker), len(PRIORITIES))}
    assert sorted(received) == sorted(PRIORITIES)
    for priority, event in received.items():
        assert event['event_type'] == 'interop.%s' % priority
        assert event['publisher_id'] == PUBLISHER
        assert event['payload'] == dict(PAYLOAD, marker=marker, priority=priority)
        assert event['ctxt'] == RECEIVED_CTXT
        assert MESSAGE_ID.match(event['metadata']['message_id']), event['metadata']
        assert TIMESTAMP.match(event['metadata']['timestamp']), event['metadata']


@pytest.mark.parametrize('driver, received_type', [('messaging', 'datetime'),
                                                   ('messagingv2', 'str')])
def test_a_datetime_in_the_payload_arrives_as_between_oslo_peers(route, driver,
                                                                 received_type):
    # Between two oslo.messaging peers the v1 driver lets kombu encode a
    # datetime as a {"__type__": "datetime", "__value__": ...} marker, which
    # the listener's kombu decoding turns back into a datetime; v2 converts it
    # to an ISO string before enveloping (WIRE.md 2.2).
    marker = unique_name('datetime')
    notify(route.notifier, route.topic, driver=driver, payload={'marker': marker},
           datetime_keys=['when'])
    event = route.listener.events.take(marked(marker), timeout=10)
    assert event['payload_types']['when'] == received_type


def test_a_plain_dict_context_is_not_sent(route):
    marker = unique_name('dict')
    notify(route.notifier, route.topic, payload={'marker': marker}, ctxt_kind='dict')
    assert route.listener.events.take(marked(marker))['ctxt'] == {'client_timeout': None}


@pytest.mark.parametrize('driver', DRIVERS)
def test_notification_filter_selects_what_an_endpoint_receives(route, driver):
    marker = unique_name('filter')
    misses = {
        'publisher': dict(publisher_id='network.host-1'),
        'event_type': dict(event_type='instance.delete.end'),
        'payload': dict(payload=dict(PAYLOAD, state='error')),
        'context': dict(ctxt=dict(CTXT, user='bob')),
    }
    for name, change in misses.items():
        sent = dict(dict(payload=dict(PAYLOAD)), **change)
        sent['payload'] = dict(sent['payload'], marker='%s-%s' % (marker, name))
        notify(route.notifier, route.topic, driver=driver, **sent)
    notify(route.notifier, route.topic, driver=driver, payload=dict(PAYLOAD, marker=marker))

    events = route.listener.events
    hit = events.take(marked(marker, 'filtered'))
    assert hit['payload']['marker'] == marker
    for name in misses:
        # The unfiltered endpoint comes after the filtered one in the same
        # listener, so once it has a notification the filter has judged it.
        events.take(marked('%s-%s' % (marker, name)))
        assert not events.find(marked('%s-%s' % (marker, name), 'filtered')), name
    events.take(marked(marker))


def test_a_requeued_notification_is_delivered_again(route):
    marker = unique_name('requeue')
    notify(route.notifier, route.topic, payload={'marker': marker, 'requeue_once': marker})
    first, second = route.listener.events.take_many(marked(marker), 2)
    assert (first['result'], second['result']) == ('requeue', 'handled')
    assert first['metadata'] == second['metadata']


@pytest.mark.parametrize('notifier_library', LIBRARIES)
def test_each_pool_gets_its_own_copy(notifier_library, notifiers, listeners, names):
    marker = unique_name('pool')
    notify(notifiers[notifier_library], names.pool_topic, payload={'marker': marker})
    for lib in LIBRARIES:
        event = listeners[lib].events.take(marked(marker, 'pooled'))
        assert event['listener'] == 'pool'


@pytest.mark.parametrize('notifier_library', LIBRARIES)
def test_a_pool_served_by_both_libraries_shares_the_notifications(notifier_library,
                                                                  notifiers, listeners,
                                                                  names):
    markers = [unique_name('joint') for _ in range(6)]
    with merged(listeners['ours'].events, listeners['oslo'].events) as log:
        for marker in markers:
            notify(notifiers[notifier_library], names.joint_topic, payload={'marker': marker})
        received = log.take_many(lambda e: e['event'] == 'notification'
                                 and e['endpoint'] == 'joint'
                                 and e['payload'].get('marker') in markers, len(markers))
    assert sorted(e['payload']['marker'] for e in received) == sorted(markers)
    assert {e['library'] for e in received} == {'messaging', 'oslo_messaging'}
