"""The benchmark's workloads, run in a subprocess of their own per library.

    python workload.py LIBRARY URL SIZES COUNT THREADS MODE

``LIBRARY`` is ``messaging`` or ``oslo_messaging``, imported by name, so
both run exactly the same code; this file imports nothing else of
``messaging`` and is run by path, so the oslo.messaging interpreter can run
it too (``bare.py`` has the floors on the bare ``amqp`` client, ``scale.py``
the many-servers mode; both use the helpers here). ``MODE`` is
``cross-process``, the RPC server and the notification listener in a
process of their own (``peer.py``), as services deploy them, or
``same-process``, beside the client. Each loop's CPU time is read for both
processes (``cpu_time.py``). Progress goes to stderr; one JSON object with
the results goes to stdout. Every queue and exchange declared (all with a
unique suffix) is deleted at the end.
"""
from __future__ import annotations

import functools
import importlib
import json
import os
import resource
import sys
import threading
import time
import uuid
from typing import Any, Callable
from urllib import parse

if __package__:
    from messaging.bench import cpu_time, peer
else:  # run by path: the modules are beside this file
    import cpu_time
    import peer

CALL_TIMEOUT = 60.0
MODES = ('cross-process', 'same-process')
END_TO_END_TIMEOUT = 300.0


# The parent's progress bar (messaging.bench.progress) names the write end
# of its pipe here; run alone, a workload reports on stderr.
PROGRESS_FD_ENV = 'MESSAGING_BENCH_PROGRESS_FD'
_progress_stream = None


def progress(text: str) -> None:
    """One workload step begins: a line to the parent's progress pipe, or
    to stderr (stdout carries the results)."""
    global _progress_stream
    if _progress_stream is None:
        fd = os.environ.get(PROGRESS_FD_ENV)
        _progress_stream = (os.fdopen(int(fd), 'w', encoding='utf-8') if fd
                            else sys.stderr)
    prefix = '' if _progress_stream is not sys.stderr else '  '
    _progress_stream.write('%s%s\n' % (prefix, text))
    _progress_stream.flush()


def steps(sizes: list[int]) -> int:
    """How many times :func:`run` reports progress."""
    return len(sizes) * 4


def count_for(count: int, size: int) -> int:
    """Fewer iterations for big payloads: ``count`` for 100 B, down to 1/50
    of it (at least 5) for 1 MB."""
    if size <= 1024:
        return count
    if size <= 100 * 1024:
        return max(count // 2, 5)
    return max(count // 50, 5)


class Counter:
    """Counts handled messages and signals when ``expected`` have arrived."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen = 0
        self._expected = 0
        self.done = threading.Event()

    def expect(self, expected: int) -> None:
        """Start counting afresh towards ``expected``."""
        with self._lock:
            self._seen = 0
            self._expected = expected
            self.done.clear()

    def hit(self) -> None:
        """One more message handled."""
        with self._lock:
            self._seen += 1
            if self._seen >= self._expected:
                self.done.set()

    def wait(self) -> None:
        """Wait for the expected count; raise if it does not come in time."""
        if not self.done.wait(END_TO_END_TIMEOUT):
            raise RuntimeError('only %d of %d messages arrived within %s s'
                               % (self._seen, self._expected, END_TO_END_TIMEOUT))


class Endpoint:
    """The RPC endpoint: ``echo`` for calls, ``count`` for casts."""

    def __init__(self, counter: Counter) -> None:
        self._counter = counter

    def echo(self, ctxt: Any, value: Any) -> Any:
        return value

    def count(self, ctxt: Any, value: Any) -> None:
        self._counter.hit()


class NotificationEndpoint:
    """Counts ``info`` notifications."""

    def __init__(self, counter: Counter) -> None:
        self._counter = counter

    def info(self, ctxt, publisher_id, event_type, payload, metadata):
        self._counter.hit()


def timed_loop(count: int, threads: int, one: Callable[[], Any]) -> tuple[float, list[float]]:
    """Run ``one()`` ``count`` times over ``threads`` threads.

    Returns the wall time and the latency of every run, in seconds.
    """
    latencies: list[float] = []
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        mine = []
        try:
            for _ in range(n):
                started = time.perf_counter()
                one()
                mine.append(time.perf_counter() - started)
        except BaseException as ex:  # reported by the main thread
            errors.append(ex)
        latencies.extend(mine)

    shares = [count // threads + (1 if i < count % threads else 0) for i in range(threads)]
    started = time.perf_counter()
    if threads == 1:
        worker(count)
    else:
        pool = [threading.Thread(target=worker, args=(n,)) for n in shares]
        for thread in pool:
            thread.start()
        for thread in pool:
            thread.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise errors[0]
    return elapsed, latencies


def end_to_end(count: int, counter: Counter, one: Callable[[], Any]) -> tuple[float, float]:
    """Send ``count`` messages with ``one()``; the wall time until all were
    handled, and the time publishing alone took."""
    counter.expect(count)
    started = time.perf_counter()
    for _ in range(count):
        one()
    published = time.perf_counter() - started
    counter.wait()
    return time.perf_counter() - started, published


def _library(library: str, exchange: str) -> Any:
    """``library`` imported by name, its configuration read and its
    default exchange set, as each process of a run does once."""
    from oslo_config import cfg

    lib = importlib.import_module(library)
    cfg.CONF([], project='messaging_bench')
    lib.set_transport_defaults(exchange)
    return lib


class LibraryServer:
    """The RPC server and the notification listener of ``messaging`` or
    ``oslo_messaging`` on the topic and exchange named after ``suffix``,
    counting casts and notifications in :attr:`counter`."""

    def __init__(self, library: str, url: str, suffix: str) -> None:
        from oslo_config import cfg

        self.topic = 'bench_%s' % suffix
        self.exchange = 'bench_x_%s' % suffix
        lib = _library(library, self.exchange)
        self.counter = Counter()
        self.transport = lib.get_rpc_transport(cfg.CONF, url)
        self.notify_transport = lib.get_notification_transport(cfg.CONF, url)
        self.server = lib.get_rpc_server(
            self.transport, lib.Target(topic=self.topic, server='s1', exchange=self.exchange),
            [Endpoint(self.counter)], executor='threading')
        self.listener = lib.get_notification_listener(
            self.notify_transport, [lib.Target(topic=self.topic, exchange=self.exchange)],
            [NotificationEndpoint(self.counter)], executor='threading')
        self.server.start()
        self.listener.start()

    def declared(self) -> tuple[list[str], list[str]]:
        """The queues and exchanges the server and listener made."""
        return ([self.topic, self.topic + '.s1', self.topic + '.info'],
                [self.exchange, self.topic + '_fanout'])

    def close(self) -> None:
        for server in (self.server, self.listener):
            server.stop()
            server.wait()
        self.transport.cleanup()
        self.notify_transport.cleanup()


class LibraryClient:
    """The RPC client and the notifier of ``messaging`` or
    ``oslo_messaging`` for the topic and exchange named after ``suffix``."""

    def __init__(self, library: str, url: str, suffix: str) -> None:
        from oslo_config import cfg

        exchange = 'bench_x_%s' % suffix
        lib = _library(library, exchange)
        topic = 'bench_%s' % suffix
        self.transport = lib.get_rpc_transport(cfg.CONF, url)
        self.notify_transport = lib.get_notification_transport(cfg.CONF, url)
        self.client = lib.get_rpc_client(
            self.transport, lib.Target(topic=topic, exchange=exchange), timeout=CALL_TIMEOUT)
        self.notifier = lib.Notifier(self.notify_transport, publisher_id='bench',
                                     driver='messaging', topics=[topic])

    def call(self, value: str) -> Any:
        return self.client.call({}, 'echo', value=value)

    def cast(self, value: str) -> None:
        self.client.cast({}, 'count', value=value)

    def notify(self, value: str) -> None:
        self.notifier.info({}, 'bench.event', {'value': value})

    def declared(self) -> tuple[list[str], list[str]]:
        """The reply queue the calls made."""
        queue = reply_queue_of(self.transport)
        return ([queue] if queue else []), []

    def close(self) -> None:
        self.transport.cleanup()
        self.notify_transport.cleanup()


def reply_queue_of(transport: Any) -> Any:
    """The name of the reply queue ``transport`` declared for its calls (None
    before its first call), so that the run can delete it: neither library
    has a public name for it, and oslo.messaging's outlives the process by
    half an hour."""
    admin = getattr(transport, 'admin', None)
    if admin is not None:  # messaging
        return admin.reply_queue_name
    return getattr(transport._driver, '_reply_q', None)  # oslo.messaging


def connect(url: str, **options: Any) -> Any:
    """A bare ``amqp`` connection to a ``rabbit://`` URL's first host;
    ``options`` go to ``amqp.Connection``."""
    import amqp

    parts = parse.urlsplit(url)
    vhost = parse.unquote(parts.path[1:]) if len(parts.path) > 1 else '/'
    connection = amqp.Connection('%s:%d' % (parts.hostname or 'localhost', parts.port or 5672),
                                 userid=parse.unquote(parts.username or 'guest'),
                                 password=parse.unquote(parts.password or 'guest'),
                                 virtual_host=vhost, **options)
    connection.connect()
    return connection


def delete_declared(url: str, queues: list[str], exchanges: list[str]) -> None:
    """Delete what a run declared (missing ones are fine)."""
    connection = connect(url)
    try:
        for name in queues:
            connection.channel().queue_delete(name)
        for name in exchanges:
            connection.channel().exchange_delete(name)
    finally:
        connection.close()


def timed_calls(sides: list, count: int, threads: int, one: Callable[[], Any]) -> dict:
    """``count`` runs of ``one()`` on ``threads`` threads (:func:`timed_loop`):
    the raw figures, with the CPU the processes of ``sides`` used."""
    (elapsed, latencies), cpu = cpu_time.around(sides, lambda: timed_loop(count, threads, one))
    figures = {'count': count, 'seconds': elapsed, 'latencies': latencies, 'cpu': cpu}
    if threads > 1:
        figures['threads'] = threads
    return figures


def timed_end_to_end(sides: list, count: int, counter: Any, one: Callable[[], Any]) -> dict:
    """``count`` messages sent with ``one()`` until handled (:func:`end_to_end`):
    the raw figures, with the CPU the processes of ``sides`` used."""
    (elapsed, published), cpu = cpu_time.around(sides, lambda: end_to_end(count, counter, one))
    return {'count': count, 'seconds': elapsed, 'publish_seconds': published, 'cpu': cpu}


def sides_of(server: Any) -> list:
    """The processes whose CPU the loops cost: this one, and the server's
    when it is a :class:`peer.Peer`."""
    if not isinstance(server, peer.Peer):
        return [cpu_time.Side('process', os.getpid(), cpu_time.own_thread_names)]
    return [cpu_time.Side('client', os.getpid(), cpu_time.own_thread_names),
            cpu_time.Side('server', server.pid, server.thread_names)]


def close_all(url: str, parts: list) -> None:
    """Close each part of a run (any of them None: never started) and delete
    what it declared."""
    for part in parts:
        if part is not None:
            queues, exchanges = part.declared()
            part.close()
            delete_declared(url, queues, exchanges)


def finish(results: dict, server: Any) -> dict:
    """``results`` with the peak RSS of this process and of the server's
    process, if it had one of its own."""
    # ru_maxrss is in KiB on Linux.
    results['peak_rss_mb'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    if isinstance(server, peer.Peer):
        results['server_peak_rss_mb'] = server.peak_rss_mb
    return results


def run(library: str, url: str, sizes: list[int], count: int, threads: int,
        cross_process: bool = True) -> dict:
    """Every workload at every size; the results as a JSON-able dict.

    With ``cross_process`` the RPC server and the notification listener run
    in a :class:`peer.Peer` process, else in this one, beside the client.
    """
    suffix = uuid.uuid4().hex[:10]
    server = (peer.Peer(library, url, suffix) if cross_process
              else LibraryServer(library, url, suffix))
    client = None
    results: dict = {'library': library, 'cross_process': cross_process, 'sizes': {}}
    try:
        client = LibraryClient(library, url, suffix)
        sides = sides_of(server)
        client.call('warm-up')
        for size in sizes:
            value = 'x' * size
            n = count_for(count, size)
            sized: dict = {}
            progress('%s: %d B: %d sequential calls' % (library, size, n))
            sized['call'] = timed_calls(sides, n, 1, functools.partial(client.call, value))
            progress('%s: %d B: %d casts' % (library, size, n))
            sized['cast'] = timed_end_to_end(sides, n, server.counter,
                                             functools.partial(client.cast, value))
            progress('%s: %d B: %d calls on %d threads' % (library, size, n, threads))
            sized['concurrent_call'] = timed_calls(sides, n, threads,
                                                   functools.partial(client.call, value))
            progress('%s: %d B: %d notifications' % (library, size, n))
            sized['notify'] = timed_end_to_end(sides, n, server.counter,
                                               functools.partial(client.notify, value))
            results['sizes'][str(size)] = sized
    finally:
        close_all(url, [client, server])
    return finish(results, server)


def parse_mode(mode: str) -> bool:
    """``cross-process`` (True) or ``same-process`` (False), as the benchmark
    names the modes on the command lines of its subprocesses."""
    if mode not in MODES:
        raise ValueError('no mode %r (one of %s)' % (mode, ', '.join(MODES)))
    return mode == MODES[0]


def main(argv: list[str]) -> int:
    library, url, sizes, count, threads, mode = argv
    results = run(library, url, [int(s) for s in sizes.split(',')], int(count), int(threads),
                  cross_process=parse_mode(mode))
    json.dump(results, sys.stdout)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
