"""Soak: a service of 100 RPC servers and 100 notification listeners in one
process, each on a transport shared by all of its kind, under calls, casts
and notifications to every one of them from 8 client threads.

Checks that nothing is lost or delivered twice, and that threads, broker
connections, file descriptors and memory stay flat once warmed up. Run it
with ``python3 -m pytest -m soak -s``; ``MESSAGING_SOAK_SERVERS`` changes
how many servers and listeners there are.
"""
from __future__ import annotations

import os
import threading
import time

import pytest

import messaging
from tests.faults.figures import record
from tests.soak import measures
from tests.soak.measures import DeliveryLedger

SERVERS = int(os.environ.get('MESSAGING_SOAK_SERVERS', '100'))
CASTS = 20000
CALLS = 5000
NOTIFICATIONS = 10000
CLIENT_THREADS = 8
ROUNDS = 5
WARM_UP_ROUNDS = 2
ROUND_ARRIVAL_DEADLINE = 120
CALL_TIMEOUT = 60
# Worker threads start while handlers are due and end once idle, so their
# number follows the load of the moment; a few either way is not a leak.
THREAD_SLACK = 8
# Connections are opened on demand up to the pools' sizes (a bounded cache).
CONNECTION_SLACK = 4
RSS_GROWTH_BOUND_MB = 24


class Endpoint:
    def __init__(self, casts: DeliveryLedger, calls: DeliveryLedger) -> None:
        self.casts, self.calls = casts, calls

    def note(self, ctxt, ident):
        self.casts.record(ident)

    def echo(self, ctxt, ident):
        self.calls.record(ident)
        return ident


class NotificationEndpoint:
    def __init__(self, ledger: DeliveryLedger) -> None:
        self.ledger = ledger

    def info(self, ctxt, publisher_id, event_type, payload, metadata):
        self.ledger.record(payload['ident'])


def _share(total: int, round_no: int, thread_no: int) -> range:
    start, stop = total * round_no // ROUNDS, total * (round_no + 1) // ROUNDS
    return range(start + thread_no, stop, CLIENT_THREADS)


def _send(clients, notifiers, round_no: int, thread_no: int, failures: list) -> None:
    """This thread's casts, calls and notifications of the round, each to
    the server or listener its id picks."""
    for ident in _share(CASTS, round_no, thread_no):
        try:
            clients[ident % SERVERS].cast({}, 'note', ident=ident)
        except Exception as ex:
            failures.append('cast %d: %r' % (ident, ex))
    for ident in _share(CALLS, round_no, thread_no):
        try:
            reply = clients[ident % SERVERS].call({}, 'echo', ident=ident)
            if reply != ident:
                failures.append('call %d: replied %r' % (ident, reply))
        except Exception as ex:
            failures.append('call %d: %r' % (ident, ex))
    for ident in _share(NOTIFICATIONS, round_no, thread_no):
        try:
            notifiers[ident % SERVERS].info({}, 'soak.event', {'ident': ident})
        except Exception as ex:
            failures.append('notification %d: %r' % (ident, ex))


def _sample(label: str) -> dict:
    return {'after': label, 'threads': measures.threads(),
            'connections': measures.broker_connections(), 'fds': measures.open_fds(),
            'rss_mb': round(measures.rss_mb(), 1)}


@pytest.mark.soak
@pytest.mark.timeout(900)
def test_soak_of_100_servers_and_100_listeners_in_one_process(
        rabbit_transport, rabbit_url, unique_name, broker_cleanup):
    from oslo_config import cfg

    topic = unique_name('soakmany')
    exchange = broker_cleanup.exchange(unique_name('soakmanyx'))
    broker_cleanup.queue(topic)
    broker_cleanup.exchange(topic + '_fanout')
    casts, calls = DeliveryLedger(CASTS), DeliveryLedger(CALLS)
    notified = DeliveryLedger(NOTIFICATIONS)
    server_transport, client_transport = rabbit_transport(), rabbit_transport()
    conf = cfg.ConfigOpts()
    conf([])
    listen_transport = messaging.get_notification_transport(conf, rabbit_url)
    notify_transport = messaging.get_notification_transport(conf, rabbit_url)
    servers, clients, notifiers = [], [], []
    started = time.monotonic()
    try:
        for n in range(SERVERS):
            server_name = 's%d' % n
            broker_cleanup.queue('%s.%s' % (topic, server_name))
            servers.append(messaging.get_rpc_server(
                server_transport, messaging.Target(topic=topic, server=server_name,
                                                   exchange=exchange),
                [Endpoint(casts, calls)]))
            clients.append(messaging.get_rpc_client(
                client_transport, messaging.Target(topic=topic, server=server_name,
                                                   exchange=exchange),
                timeout=CALL_TIMEOUT))
            listen_topic = '%s_n%d' % (topic, n)
            broker_cleanup.queue(listen_topic + '.info')
            servers.append(messaging.get_notification_listener(
                listen_transport, [messaging.Target(topic=listen_topic)],
                [NotificationEndpoint(notified)]))
            notifiers.append(messaging.Notifier(notify_transport, publisher_id='soak',
                                                driver='messaging', topics=[listen_topic]))
        for server in servers:
            server.start()
        start_seconds = time.monotonic() - started
        samples = [_sample('start')]
        failures: list[str] = []
        started = time.monotonic()
        for round_no in range(ROUNDS):
            threads = [threading.Thread(target=_send,
                                        args=(clients, notifiers, round_no, n, failures))
                       for n in range(CLIENT_THREADS)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            if failures:
                break
            arrived = all(ledger.wait_for(total * (round_no + 1) // ROUNDS,
                                          ROUND_ARRIVAL_DEADLINE)
                          for ledger, total in ((casts, CASTS), (notified, NOTIFICATIONS)))
            if not arrived:
                failures.append('round %d: casts or notifications missing after %d s'
                                % (round_no, ROUND_ARRIVAL_DEADLINE))
                break
            samples.append(_sample('%d%%' % (100 * (round_no + 1) // ROUNDS)))
            print('soak-many %s' % samples[-1])
        seconds = time.monotonic() - started
    finally:
        for server in servers:
            server.stop()
        for server in servers:
            server.wait()
        listen_transport.cleanup()
        notify_transport.cleanup()

    lost = ((CASTS - casts.distinct) + (CALLS - calls.distinct)
            + (NOTIFICATIONS - notified.distinct))
    duplicates = casts.duplicates() + calls.duplicates() + notified.duplicates()
    warm, measured = samples[WARM_UP_ROUNDS], samples[WARM_UP_ROUNDS + 1:] or samples[-1:]
    growth = {key: max(s[key] for s in measured) - warm[key]
              for key in ('threads', 'connections', 'rss_mb')}
    print('soak-many: %d servers and %d listeners started in %.1f s; %d casts, %d calls '
          'and %d notifications from %d threads in %.1f s; at the end %d threads, %d '
          'broker connections; growth after warm-up %s'
          % (SERVERS, SERVERS, start_seconds, CASTS, CALLS, NOTIFICATIONS, CLIENT_THREADS,
             seconds, samples[-1]['threads'], samples[-1]['connections'], growth))
    record('soak_many_servers', servers=SERVERS, listeners=SERVERS, lost=lost,
           duplicates=duplicates, start_seconds=round(start_seconds, 1),
           seconds=round(seconds, 1), samples=samples)

    assert not failures, failures[:20]
    assert (lost, duplicates) == (0, 0), 'lost %d, duplicated %d' % (lost, duplicates)
    assert growth['threads'] <= THREAD_SLACK, samples
    assert growth['connections'] <= CONNECTION_SLACK, samples
    assert growth['rss_mb'] <= RSS_GROWTH_BOUND_MB, samples
