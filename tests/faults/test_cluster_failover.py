"""Failover between the hosts of a transport URL, quorum queues, and a node
stopped under load, on a three-node cluster of the tests' own.

Each test that stops a node starts it again before it ends, so the module's
cluster is whole for the next test whatever the order.
"""
from __future__ import annotations

import collections
import logging
import pathlib
import time
import uuid

import pytest

import messaging
from tests.faults import figures
from tests.faults.cluster_helpers import (CALL_MARGIN, CALL_TIMEOUT, FAST_RECONNECT, KOLLA,
                                          RECOVERY_BOUND, WAIT,
                                          Load, RecordingEndpoint,
                                          broker_state, call_until_ok, client, exchange_of,
                                          hosts_in_url_order, leader_index, listener_of,
                                          make_transport, node_of, queues, serving,
                                          two_servers_under_load, uses_khepri)

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(120)]

LOG = logging.getLogger(__name__)

# How long the tests watch calls fail while a classic queue they need waits
# for its stopped node (on Khepri, see CLASSIC_QUEUES_WAIT_FOR_THEIR_NODE).
DOWN_WINDOW = 8

# Why classic queues come back only with their node on RabbitMQ 4.2+:
# Mnesia (3.x) deletes the non-durable classic queues of a node as soon as it
# stops, so a client declares them again on a node that is left. Khepri keeps
# their records while the node is away (they are deleted when it starts
# again, as queues "from an old incarnation") and refuses to declare them
# anywhere else meanwhile: 404 "process is stopped by supervisor" at once
# after a stop_app, 404 "due to timeout" after 60 s when the node is down
# (tried by hand on 4.3.6). A durable classic queue waits for its node on
# both (404 "home node ... is down or inaccessible"). A classic topic queue
# on the stopped node therefore serves no call until that node is back; a
# process's own reply and fanout queues are replaced by queues of new names
# (ConsumerSet.declare's renew); quorum queues and streams (the Kolla
# configuration) fail over as on 3.x.
CLASSIC_QUEUES_WAIT_FOR_THEIR_NODE = 'Khepri keeps the classic queues of a stopped node'


def _topic() -> str:
    return 'cluster_%s' % uuid.uuid4().hex[:10]


def _reconnect_targets(caplog, nodes) -> dict[str, list[int]]:
    """Per connection name, the nodes it was sent to after each failure."""
    targets: dict[str, list[int]] = {}
    for record in caplog.records:
        # The retry path's records name the host the next attempt goes to.
        if hasattr(record, 'next_broker'):
            targets.setdefault(record.connection_name, []).append(
                nodes.ports.index(int(record.next_broker.rsplit(':', 1)[1])))
    return targets


@pytest.mark.parametrize('strategy', ['round-robin', 'shuffle'])
def test_client_and_server_fail_over_when_their_node_stops(rabbit_cluster, monkeypatch,
                                                           caplog, strategy):
    """With node 0 (where everything connected first) stopped, the server's
    listener, the reply waiter and the send connections reconnect to the
    other nodes and calls succeed again within a bounded time.

    Round-robin tries the URL's hosts in order (node 1, then 2, then 0...),
    shuffle picks them at random. Calls sent while the server's classic
    queues are being declared again on another node may be dropped by the
    broker (no queue is bound yet): those time out, as they must.

    On Khepri the topic queue, classic and on node 0, cannot be declared
    elsewhere until node 0 is back (CLASSIC_QUEUES_WAIT_FOR_THEIR_NODE):
    there every call fails while node 0 is stopped, and calls succeed within
    the same bound once it has started again.
    """
    hosts_in_url_order(monkeypatch)
    khepri = uses_khepri(rabbit_cluster)
    topic = _topic()
    transport = make_transport(rabbit_cluster, kombu_failover_strategy=strategy,
                               **FAST_RECONNECT)
    endpoint = RecordingEndpoint()
    stopped = False
    try:
        with serving(transport, topic, 'srv', endpoint), \
                caplog.at_level(logging.WARNING, logger='messaging'):
            rpc = client(transport, topic, timeout=2)
            assert rpc.call({}, 'echo', value=1) == 1
            driver = transport._driver
            listener = listener_of(transport, topic)
            assert node_of(rabbit_cluster, listener.connection) == 0
            assert node_of(rabbit_cluster, driver._reply_waiter._connection) == 0

            rabbit_cluster.stop_app(0)
            stopped = True
            failures = {'MessagingTimeout'}
            if khepri:
                down = call_until_ok(rpc, DOWN_WINDOW)
                assert 'ok' not in down, (CLASSIC_QUEUES_WAIT_FOR_THEIR_NODE, down)
                rabbit_cluster.start_app(0)
                stopped = False
                # A request routed to the topic queue before it is back is
                # refused (nacked) by the broker.
                failures.add('MessageDeliveryFailure')
            outcomes = call_until_ok(rpc, RECOVERY_BOUND)
            assert outcomes[-1] == 'ok', (outcomes, broker_state(rabbit_cluster, 1))
            assert set(outcomes[:-1]) <= failures, outcomes
            rpc.cast({}, 'note', number=7)
            assert endpoint.wait_for_casts({7}, WAIT) == set()
            if not khepri:
                assert node_of(rabbit_cluster, listener.connection) != 0
                assert node_of(rabbit_cluster, driver._reply_waiter._connection) != 0
    finally:
        try:
            if stopped:
                rabbit_cluster.start_app(0)
        finally:
            transport.cleanup()
    targets = _reconnect_targets(caplog, rabbit_cluster)
    assert targets, 'no connection reported a failover'
    if strategy == 'round-robin':
        for name, tried in targets.items():
            assert tried == [(1 + i) % 3 for i in range(len(tried))], (name, tried)


def test_rpc_and_notification_queues_are_quorum_queues(rabbit_cluster):
    """With rabbit_quorum_queue the topic, server and notification queues
    are replicated quorum queues; reply and fanout queues stay classic."""
    topic = _topic()
    transport = make_transport(rabbit_cluster, rabbit_quorum_queue='true')
    endpoint = RecordingEndpoint()
    notif_listener = None
    try:
        with serving(transport, topic, 'srv', endpoint):
            assert client(transport, topic).call({}, 'echo', value=1) == 1
            notif_listener = transport._driver.listen_for_notification(
                [(messaging.Target(topic=topic + '_n', exchange=exchange_of(topic)),
                  'info')], None, 1, None)
            seen = queues(rabbit_cluster, 2)
            reply_queue = transport._driver.reply_queue_name
            fanout = listener_of(transport, topic).fanout_queue
    finally:
        if notif_listener is not None:
            notif_listener.cleanup()
        transport.cleanup()
    types = {name: seen[name]['type'] for name in
             (topic, topic + '.srv', topic + '_n.info', reply_queue, fanout)}
    assert types == {topic: 'quorum', topic + '.srv': 'quorum', topic + '_n.info': 'quorum',
                     reply_queue: 'classic', fanout: 'classic'}
    assert seen[topic]['leader'] in rabbit_cluster.nodes


@pytest.mark.parametrize('configuration', ['classic-replies', 'quorum-replies', 'kolla'])
def test_a_node_stopped_under_load_loses_no_confirmed_cast(rabbit_cluster, monkeypatch,
                                                           tmp_path, configuration):
    """The core fault: the node every client and server connection is on,
    and which leads the quorum queues, stops while 8 threads call and one
    casts.

    Promised: no call hangs (each returns or raises MessagingTimeout within
    its timeout and a margin); new calls succeed within RECOVERY_BOUND; no
    cast that cast() returned from is lost (quorum queues confirm a publish
    only once a majority has it). A cast may reach the endpoint twice only
    if it was in flight at the fault: a publish whose confirm was lost with
    the connection is published again, and a delivery whose ack was lost
    is delivered again, possibly to the other server, whose recent-id
    filter has not seen it.

    Calls may time out when their reply was in the classic reply queue of
    the stopped node. With rabbit_transient_quorum_queue the reply queues
    are quorum queues too, and no call fails. On Khepri, which keeps the
    classic reply and fanout queues of the stopped node and refuses them
    elsewhere (CLASSIC_QUEUES_WAIT_FOR_THEIR_NODE), the client and servers
    take queues of new names, the calls waiting on the old reply queue time
    out at once, and calls succeed again with node 0 still stopped.

    Under the Kolla configuration a fanout is cast every 50 ms as well: both
    servers read the topic's stream, reconnect to a node that is left and
    resume after the last fanout each handled, so each gets every
    confirmed fanout exactly once.
    """
    hosts_in_url_order(monkeypatch)
    topic = _topic()
    options = dict(rabbit_quorum_queue='true', **FAST_RECONNECT)
    transient_quorum = configuration != 'classic-replies'
    if transient_quorum:
        options['rabbit_transient_quorum_queue'] = 'true'
    streams = configuration == 'kolla'
    hostname = 'cluster-%s' % uuid.uuid4().hex[:8]
    if streams:
        monkeypatch.setenv('OSLO_LOCK_PATH', str(tmp_path))
        options.update(KOLLA, hostname=hostname)
    server_transport = make_transport(rabbit_cluster, **options)
    client_transport = make_transport(rabbit_cluster, **options)
    stopped = False
    try:
        with two_servers_under_load(server_transport, client_transport, topic, CALL_TIMEOUT,
                                    CALL_TIMEOUT + CALL_MARGIN,
                                    fanout_pause=0.05 if streams else None) as running:
            endpoint, fanouts, load = running
            listeners = list(server_transport._driver._listeners)
            assert {node_of(rabbit_cluster, li.connection) for li in listeners} == {0}
            assert node_of(rabbit_cluster,
                           client_transport._driver._reply_waiter._connection) == 0
            assert leader_index(rabbit_cluster, 1, topic) == 0

            stop_started = time.monotonic()
            rabbit_cluster.stop_app(0)
            stopped = True
            stop_done = time.monotonic()
            LOG.info('Node 0 stopped in %.1f s', stop_done - stop_started)
            recovered = load.wait_until(lambda r: r.ok_calls_started_after(stop_done),
                                        RECOVERY_BOUND)
            assert recovered, 'no call succeeded within %s s of the stop' % RECOVERY_BOUND
            first_ok = min(c[1] for c in load.ok_calls_started_after(stop_done))
            recovery_s = first_ok - stop_started
            # Keep the load on a while after recovery: later calls must not fail.
            assert load.wait_until(
                lambda r: len(r.ok_calls_started_after(first_ok)) >= 40, WAIT)
            alive = load.stop(join_timeout=CALL_TIMEOUT + CALL_MARGIN)
            assert alive == [], 'threads hung: %s' % alive

            missing = endpoint.wait_for_casts(set(load.casts_sent), WAIT)
            fanouts_missing = {server: recorder.wait_for_casts(set(load.fanouts.sent), WAIT)
                               for server, recorder in fanouts.items()}
            leader_after = leader_index(rabbit_cluster, 1, topic)
            nodes_after = {node_of(rabbit_cluster, li.connection) for li in listeners}
    finally:
        try:
            if stopped:
                rabbit_cluster.start_app(0)
        finally:
            client_transport.cleanup()
            server_transport.cleanup()
            for counter in pathlib.Path('/dev/shm').glob('%s_*_qmanager' % hostname):
                counter.unlink()

    outcomes = collections.Counter(outcome for _, _, outcome in load.calls)
    duplicates = endpoint.duplicates()
    fanouts_repeated = {server: sum(c - 1 for c in recorder.duplicates().values())
                        for server, recorder in fanouts.items()}
    figures.record('cluster node stop (%s)' % configuration,
                   recovery_s=round(recovery_s, 2),
                   calls_ok=outcomes['ok'], calls_failed=len(load.calls) - outcomes['ok'],
                   casts_sent=len(load.casts_sent), casts_lost=len(missing),
                   duplicates=sum(c - 1 for c in duplicates.values()),
                   fanouts_sent=len(load.fanouts.sent),
                   fanouts_lost={s: len(m) for s, m in fanouts_missing.items()},
                   fanouts_repeated=fanouts_repeated)
    slowest = max(ended - started for started, ended, _ in load.calls)
    assert slowest <= CALL_TIMEOUT + CALL_MARGIN
    assert set(outcomes) <= ({'ok'} if transient_quorum else {'ok', 'MessagingTimeout'}), \
        outcomes
    assert [c for c in load.calls if c[0] > first_ok and c[2] != 'ok'] == []
    assert load.cast_failures == []
    assert missing == set()
    # A duplicate can only come from a cast in flight at the fault: none
    # started after calls had recovered is ever delivered twice.
    assert all(load.cast_started[number] < first_ok for number in duplicates), duplicates
    assert 0 not in nodes_after
    assert leader_after not in (0, None)
    assert load.fanouts.failures == []
    assert fanouts_missing == {'s1': set(), 's2': set()}
    assert fanouts_repeated == {'s1': 0, 's2': 0}
    if streams:
        assert len(load.fanouts.sent) >= 20


def test_a_stopped_node_nobody_is_connected_to_only_moves_the_leader(rabbit_cluster,
                                                                     monkeypatch, caplog):
    """Node 2 leads the quorum queues but holds none of our connections
    (the URL names nodes 0 and 1 only). Stopping it under load must go
    unnoticed: no failed call, no lost or repeated cast, a notification
    still delivered, no reconnect; only the queues' leadership moves to a
    node that is left."""
    hosts_in_url_order(monkeypatch)
    topic = _topic()
    notify_target = messaging.Target(topic=topic + '_n', exchange=exchange_of(topic))
    options = dict(rabbit_quorum_queue='true', **FAST_RECONNECT)
    # Declared from node 2, the quorum queues are led from there.
    declarer = make_transport(rabbit_cluster, [2], **options)
    try:
        with serving(declarer, topic, 'srv', RecordingEndpoint()):
            pass
        declarer._driver.listen_for_notification([(notify_target, 'info')], None, 1,
                                                 None).cleanup()
    finally:
        declarer.cleanup()
    assert leader_index(rabbit_cluster, 0, topic) == 2
    assert leader_index(rabbit_cluster, 0, topic + '_n.info') == 2

    transport = make_transport(rabbit_cluster, [0, 1], **options)
    endpoint = RecordingEndpoint()
    load = Load(client(transport, topic), callers=2, call_timeout=CALL_TIMEOUT)
    notifications = None
    stopped = False
    try:
        notifications = transport._driver.listen_for_notification(
            [(notify_target, 'info')], None, 1, None)
        with serving(transport, topic, 'srv', endpoint), \
                caplog.at_level(logging.WARNING, logger='messaging'):
            load.start()
            assert load.wait_until(lambda r: len(r.calls) >= 20, WAIT)
            rabbit_cluster.stop_app(2)
            stopped = True
            stop_done = time.monotonic()
            transport._driver.send_notification(
                messaging.Target(topic=topic + '_n.info', exchange=exchange_of(topic)), {},
                {'event_type': 'node.stopped', 'priority': 'INFO', 'payload': {'n': 2}},
                2.0)
            received = notifications.poll(timeout=WAIT)
            for incoming in received:
                incoming.acknowledge()
            assert load.wait_until(lambda r: len(r.ok_calls_started_after(stop_done)) >= 20,
                                   WAIT)
            alive = load.stop(join_timeout=CALL_TIMEOUT + CALL_MARGIN)
            assert alive == []
            missing = endpoint.wait_for_casts(set(load.casts_sent), WAIT)
            leaders_after = {leader_index(rabbit_cluster, 0, name)
                             for name in (topic, topic + '_n.info')}
    finally:
        load.stop(join_timeout=CALL_TIMEOUT + CALL_MARGIN)
        try:
            if stopped:
                rabbit_cluster.start_app(2)
        finally:
            if notifications is not None:
                notifications.cleanup()
            transport.cleanup()
    assert [m.message['payload'] for m in received] == [{'n': 2}]
    assert {outcome for _, _, outcome in load.calls} == {'ok'}
    assert load.cast_failures == []
    assert missing == set()
    assert endpoint.duplicates() == {}
    assert [r for r in caplog.records if hasattr(r, 'next_broker')] == []
    assert leaders_after <= {0, 1}
