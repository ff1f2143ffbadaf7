"""The many-servers mode: what N RPC servers and N listeners cost a process.

    python scale.py LIBRARY URL N COUNT

``LIBRARY`` (``messaging`` or ``oslo_messaging``, imported by name) starts N
RPC servers (each on a topic and server name of its own, threading
executor) on one RPC transport and N notification listeners (each on a topic
of its own) on one notification transport, both on ``URL``, as one service
process does, with the library's default options. It measures the time
until all are started and every server has answered a call, then ``COUNT``
sequential calls to one server and ``COUNT`` round-robin over all N, and
one notification to each listener, and then, with everything running, the
process's OS threads, its TCP connections to the broker and its RSS (also
under ``after_start``, as they were before the calls).
Everything is stopped and every queue and exchange made (all with a unique
suffix) is deleted at the end. Run by path, like ``workload.py``; one JSON
object with the results goes to stdout.
"""
from __future__ import annotations

import functools
from concurrent import futures
import importlib
import itertools
import json
import os
import sys
import threading
import time
import uuid
from typing import Any
from urllib import parse

if __package__:
    from messaging.bench import workload
else:  # run by path: workload.py is beside this file
    import workload

STEPS = 5
STOPPING_THREADS = 50
PAYLOAD = 'x' * 100
# /proc/net/tcp's state code of an established connection.
TCP_ESTABLISHED = '01'


def process_threads() -> int:
    """The OS threads of this process."""
    return len(os.listdir('/proc/self/task'))


def broker_connections(port: int) -> int:
    """This process's established TCP connections to ``port``: its socket
    descriptors matched, by inode, against the kernel's TCP tables."""
    inodes = set()
    for fd in os.listdir('/proc/self/fd'):
        try:
            target = os.readlink('/proc/self/fd/%s' % fd)
        except OSError:  # closed since it was listed
            continue
        if target.startswith('socket:['):
            inodes.add(target[len('socket:['):-1])
    count = 0
    for table in ('/proc/self/net/tcp', '/proc/self/net/tcp6'):
        try:
            with open(table, encoding='ascii') as lines:
                rows = [line.split() for line in lines][1:]
        except OSError:  # no IPv6
            continue
        for row in rows:
            remote_port = int(row[2].rsplit(':', 1)[1], 16)
            if row[3] == TCP_ESTABLISHED and remote_port == port and row[9] in inodes:
                count += 1
    return count


def rss_mb() -> float:
    """This process's resident set size now, in MB."""
    with open('/proc/self/status', encoding='ascii') as lines:
        for line in lines:
            if line.startswith('VmRSS:'):
                return int(line.split()[1]) / 1024.0
    raise RuntimeError('no VmRSS in /proc/self/status')


class Arrivals:
    """Which listeners received a notification; set when all did."""

    def __init__(self, expected: int) -> None:
        self._lock = threading.Lock()
        self._seen: set[int] = set()
        self._expected = expected
        self.done = threading.Event()

    def arrived(self, index: int) -> None:
        with self._lock:
            self._seen.add(index)
            if len(self._seen) >= self._expected:
                self.done.set()

    def wait(self) -> None:
        """Wait until every listener had one; raise if that takes too long."""
        if not self.done.wait(workload.END_TO_END_TIMEOUT):
            raise RuntimeError('only %d of %d listeners got their notification within '
                               '%s s' % (len(self._seen), self._expected,
                                         workload.END_TO_END_TIMEOUT))


class ListenerEndpoint:
    """Tells :class:`Arrivals` that listener ``index`` got an ``info``."""

    def __init__(self, index: int, arrivals: Arrivals) -> None:
        self._index = index
        self._arrivals = arrivals

    def info(self, ctxt, publisher_id, event_type, payload, metadata):
        self._arrivals.arrived(self._index)


class ScaleRig:
    """N RPC servers and N listeners of one library on two transports."""

    def __init__(self, library: str, url: str, servers: int, suffix: str) -> None:
        from oslo_config import cfg

        self.lib = lib = importlib.import_module(library)
        self.exchange = 'bench_scale_x_%s' % suffix
        self.rpc_topics = ['bench_scale_%s_rpc_%d' % (suffix, i) for i in range(servers)]
        self.notify_topics = ['bench_scale_%s_notify_%d' % (suffix, i)
                              for i in range(servers)]
        self.arrivals = Arrivals(servers)
        cfg.CONF([], project='messaging_bench')
        lib.set_transport_defaults(self.exchange)
        self.transport = lib.get_rpc_transport(cfg.CONF, url)
        self.notify_transport = lib.get_notification_transport(cfg.CONF, url)
        self.servers: list = []
        self.listeners: list = []
        self.clients = [lib.get_rpc_client(self.transport,
                                           lib.Target(topic=topic, exchange=self.exchange),
                                           timeout=workload.CALL_TIMEOUT)
                        for topic in self.rpc_topics]

    def start(self) -> None:
        """Start every server and listener, and call each server once."""
        lib = self.lib
        endpoint = workload.Endpoint(workload.Counter())
        for index, topic in enumerate(self.rpc_topics):
            server = lib.get_rpc_server(
                self.transport, lib.Target(topic=topic, server='s%d' % index,
                                           exchange=self.exchange),
                [endpoint], executor='threading')
            self.servers.append(server)
            server.start()
        for index, topic in enumerate(self.notify_topics):
            listener = lib.get_notification_listener(
                self.notify_transport, [lib.Target(topic=topic, exchange=self.exchange)],
                [ListenerEndpoint(index, self.arrivals)], executor='threading')
            self.listeners.append(listener)
            listener.start()
        for client in self.clients:
            client.call({}, 'echo', value=PAYLOAD)

    def notify_each(self) -> None:
        """One notification to every listener's topic, waited for."""
        notifier = self.lib.Notifier(self.notify_transport, publisher_id='bench',
                                     driver='messaging', topics=self.notify_topics)
        notifier.info({}, 'bench.event', {'value': PAYLOAD})
        self.arrivals.wait()

    def declared(self) -> tuple[list[str], list[str]]:
        """The queues and exchanges this rig made, to delete after."""
        queues = list(self.rpc_topics)
        queues += ['%s.s%d' % (topic, i) for i, topic in enumerate(self.rpc_topics)]
        queues += ['%s.info' % topic for topic in self.notify_topics]
        reply_queue = workload.reply_queue_of(self.transport)
        if reply_queue:
            queues.append(reply_queue)
        exchanges = [self.exchange] + ['%s_fanout' % topic for topic in self.rpc_topics]
        return queues, exchanges

    def close(self) -> None:
        """Stop every server and listener, many at a time: oslo.messaging's
        stop() returns only once the listener's poll loop noticed it, up to
        a second later, which one after the other would take minutes."""
        everything = self.servers + self.listeners
        if everything:
            with futures.ThreadPoolExecutor(min(STOPPING_THREADS, len(everything))) as pool:
                list(pool.map(lambda server: server.stop(), everything))
                list(pool.map(lambda server: server.wait(), everything))
        self.transport.cleanup()
        self.notify_transport.cleanup()


def call_one(client: Any) -> Any:
    return client.call({}, 'echo', value=PAYLOAD)


def run(library: str, url: str, servers: int, count: int) -> dict:
    """The figures of one library with ``servers`` servers and listeners."""
    suffix = uuid.uuid4().hex[:10]
    port = parse.urlsplit(url).port or 5672
    results: dict = {'library': library, 'servers': servers}
    workload.progress('%s: starting %d RPC servers and %d listeners'
                      % (library, servers, servers))
    started = time.perf_counter()
    rig = ScaleRig(library, url, servers, suffix)
    try:
        rig.start()
        results['start_seconds'] = time.perf_counter() - started
        # Before the load: executors (oslo's) grow their pools on demand.
        results['after_start'] = {'threads': process_threads(),
                                  'connections': broker_connections(port),
                                  'rss_mb': rss_mb()}
        workload.progress('%s: %d calls to one server' % (library, count))
        elapsed, latencies = workload.timed_loop(
            count, 1, functools.partial(call_one, rig.clients[0]))
        results['one_server'] = {'count': count, 'seconds': elapsed, 'latencies': latencies}
        workload.progress('%s: %d calls across %d servers' % (library, count, servers))
        clients = itertools.cycle(rig.clients)
        elapsed, latencies = workload.timed_loop(count, 1, lambda: call_one(next(clients)))
        results['all_servers'] = {'count': count, 'seconds': elapsed, 'latencies': latencies}
        workload.progress('%s: a notification to each of %d listeners' % (library, servers))
        notified = time.perf_counter()
        rig.notify_each()
        results['notify_seconds'] = time.perf_counter() - notified
        results['threads'] = process_threads()
        results['connections'] = broker_connections(port)
        results['rss_mb'] = rss_mb()
    finally:
        workload.progress('%s: stopping' % library)
        queues, exchanges = rig.declared()
        stopping = time.perf_counter()
        rig.close()
        results['stop_seconds'] = time.perf_counter() - stopping
        workload.delete_declared(url, queues, exchanges)
    return results


def main(argv: list[str]) -> int:
    library, url, servers, count = argv
    json.dump(run(library, url, int(servers), int(count)), sys.stdout)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
