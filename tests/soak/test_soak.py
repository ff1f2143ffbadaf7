"""Soak: many casts and calls from many client threads against one RPC server.

Checks that nothing is lost or delivered twice and that file descriptors and
memory stay flat once warmed up. Run it with ``python3 -m pytest -m soak -s``;
``MESSAGING_SOAK_CASTS`` and ``MESSAGING_SOAK_CALLS`` make a shorter run.
"""
from __future__ import annotations

import gc
import os
import threading
import time

import pytest

import messaging
from tests.faults.figures import record
from tests.soak.measures import DeliveryLedger, open_fds, rss_mb

CASTS = int(os.environ.get('MESSAGING_SOAK_CASTS', '100000'))
CALLS = int(os.environ.get('MESSAGING_SOAK_CALLS', '20000'))
CLIENT_THREADS = 16
# The work runs in rounds; fds and RSS are sampled after each, once the
# round's casts have all arrived, so every sample sees the same quiet state.
ROUNDS = 10
# Connections, reply queues, executor threads and the allocator's arenas are
# created on demand during the first rounds; growth is measured after them.
WARM_UP_ROUNDS = 2
# A round's casts arrive within seconds at ~2000/s; this only bounds a failure.
ROUND_ARRIVAL_DEADLINE = 120
CALL_TIMEOUT = 60
# Past this many failed sends the clients stop, so a broken run ends in
# minutes rather than waiting out a call timeout for every remaining call.
FAILURES_BEFORE_GIVING_UP = 20
# The connection pools (client sends, server replies) open connections on
# demand up to rpc_conn_pool_size, so they may still open one when contention
# peaks late in the run: that is a bounded cache, not a leak. Descriptors
# other than pooled connections (one socket each) must stay flat; the slack
# of 2 allows for a short-lived descriptor open elsewhere in the process at
# sampling time. A leak of one fd per 1,000 messages would add ~100 over the
# measured 80% of the default run.
FD_GROWTH_BOUND = 2
# A leak of 1 KB per message would add ~94 MB over the 96,000 messages after
# warm-up in the default run (~9 MB per round); 24 MB is a quarter of that,
# so a leak of ~256 bytes per message fails while allocator noise (arenas,
# thread stacks touched once) stays well under it. The ledgers below are
# allocated before the run so recording deliveries adds nothing per message.
RSS_GROWTH_BOUND_MB = 24


class SoakEndpoint:
    def __init__(self) -> None:
        self.casts = DeliveryLedger(CASTS)
        self.calls = DeliveryLedger(CALLS)

    def note(self, ctxt, ident):
        self.casts.record(ident)

    def echo(self, ctxt, ident):
        self.calls.record(ident)
        return ident


def _pooled_connections(transports) -> int:
    return sum(transport._driver._pool.size for transport in transports)


def _sample(label: str, transports) -> dict:
    gc.collect()
    fds, pooled = open_fds(), _pooled_connections(transports)
    return {'after': label, 'fds': fds, 'pooled': pooled, 'unpooled_fds': fds - pooled,
            'rss_mb': round(rss_mb(), 1), 'threads': threading.active_count()}


def _share(total: int, round_no: int, thread_no: int) -> range:
    """The ids client thread ``thread_no`` sends in round ``round_no``."""
    start, stop = total * round_no // ROUNDS, total * (round_no + 1) // ROUNDS
    return range(start + thread_no, stop, CLIENT_THREADS)


class ClientResults:
    """What the client threads saw: correct replies per call id, and failures."""

    def __init__(self) -> None:
        self.replied = [False] * CALLS
        self.failures: list[str] = []
        self.given_up = threading.Event()
        self._lock = threading.Lock()

    def failed(self, what: str) -> None:
        with self._lock:
            self.failures.append(what)
            if len(self.failures) >= FAILURES_BEFORE_GIVING_UP:
                self.given_up.set()


def _send(client, round_no: int, thread_no: int, results: ClientResults) -> None:
    """Send this thread's casts and calls of the round, calls spread among casts."""
    casts = _share(CASTS, round_no, thread_no)
    calls = _share(CALLS, round_no, thread_no)
    every = max(1, len(casts) // max(1, len(calls)))
    pending_calls = iter(calls)
    for position, ident in enumerate(casts):
        if results.given_up.is_set():
            return
        _cast(client, ident, results)
        if position % every == 0:
            call_id = next(pending_calls, None)
            if call_id is not None:
                _call(client, call_id, results)
    for call_id in pending_calls:
        if results.given_up.is_set():
            return
        _call(client, call_id, results)


def _cast(client, ident: int, results: ClientResults) -> None:
    try:
        client.cast({}, 'note', ident=ident)
    except Exception as ex:
        results.failed('cast %d: %r' % (ident, ex))


def _call(client, ident: int, results: ClientResults) -> None:
    try:
        reply = client.call({}, 'echo', ident=ident)
    except Exception as ex:
        results.failed('call %d: %r' % (ident, ex))
        return
    if reply == ident:
        results.replied[ident] = True
    else:
        results.failed('call %d: replied %r' % (ident, reply))


def _run_round(client, round_no: int, results: ClientResults) -> None:
    threads = [threading.Thread(target=_send, args=(client, round_no, n, results),
                                name='soak-client-%d' % n)
               for n in range(CLIENT_THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


@pytest.mark.soak
@pytest.mark.timeout(900)
def test_soak_loses_nothing_duplicates_nothing_and_leaks_nothing(
        rabbit_transport, unique_name, broker_cleanup):
    topic = unique_name('soak')
    exchange = broker_cleanup.exchange(unique_name('soakx'))
    for queue in (topic, topic + '.soak'):
        broker_cleanup.queue(queue)
    broker_cleanup.exchange(topic + '_fanout')
    endpoint = SoakEndpoint()
    results = ClientResults()
    transports = (rabbit_transport(), rabbit_transport())
    server = messaging.get_rpc_server(
        transports[0], messaging.Target(topic=topic, server='soak', exchange=exchange),
        [endpoint], executor='threading')
    client = messaging.get_rpc_client(
        transports[1], messaging.Target(topic=topic, exchange=exchange),
        timeout=CALL_TIMEOUT)
    server.start()
    samples = [_sample('start', transports)]
    started = time.monotonic()
    try:
        for round_no in range(ROUNDS):
            _run_round(client, round_no, results)
            if results.given_up.is_set():
                break
            expected = CASTS * (round_no + 1) // ROUNDS
            if not endpoint.casts.wait_for(expected, ROUND_ARRIVAL_DEADLINE):
                results.failed('round %d: %d of %d casts arrived within %d s'
                               % (round_no, endpoint.casts.distinct, expected,
                                  ROUND_ARRIVAL_DEADLINE))
                break
            samples.append(_sample('%d%%' % (100 * (round_no + 1) // ROUNDS), transports))
            print('soak %s' % samples[-1])
    finally:
        seconds = time.monotonic() - started
        server.stop()
        server.wait()

    lost = (CASTS - endpoint.casts.distinct) + (CALLS - sum(results.replied))
    duplicates = endpoint.casts.duplicates() + endpoint.calls.duplicates()
    warm = samples[min(WARM_UP_ROUNDS, len(samples) - 1)]
    measured = samples[WARM_UP_ROUNDS + 1:] or samples[-1:]
    fd_growth = max(s['unpooled_fds'] for s in measured) - warm['unpooled_fds']
    rss_growth = max(s['rss_mb'] for s in measured) - warm['rss_mb']
    print('soak: %d casts and %d calls from %d threads in %.1f s: %.0f casts/s, '
          '%.0f calls/s' % (CASTS, CALLS, CLIENT_THREADS, seconds, CASTS / seconds,
                            CALLS / seconds))
    print('soak: after warm-up unpooled fds grew by %d (bound %d), RSS by %.1f MB (bound %d MB: '
          'what a leak of %.0f bytes per message after warm-up would add)'
          % (fd_growth, FD_GROWTH_BOUND, rss_growth, RSS_GROWTH_BOUND_MB,
             RSS_GROWTH_BOUND_MB * 2 ** 20 / max(1, (CASTS + CALLS) * 8 // ROUNDS)))
    record('soak', casts=CASTS, calls=CALLS, lost=lost, duplicates=duplicates,
           seconds=round(seconds, 1), fd_start=samples[0]['fds'],
           fd_after_warmup=warm['fds'], fd_end=samples[-1]['fds'],
           pooled_connections_end=samples[-1]['pooled'],
           rss_mb_start=samples[0]['rss_mb'], rss_mb_after_warmup=warm['rss_mb'],
           rss_mb_end=samples[-1]['rss_mb'])

    assert not results.failures, results.failures[:20]
    assert (lost, duplicates) == (0, 0), 'lost %d, duplicated %d' % (lost, duplicates)
    assert len(samples) == ROUNDS + 1
    assert fd_growth <= FD_GROWTH_BOUND, samples
    assert rss_growth <= RSS_GROWTH_BOUND_MB, samples
