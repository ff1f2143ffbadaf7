"""Sequential RPC call rate and end-to-end cast rate on a RabbitMQ broker.

    python benchmarks/rabbit_rates.py [--url rabbit://guest:guest@127.0.0.1:5672/]
        [--calls 2000] [--casts 5000] [--same-process] [--library oslo_messaging]

The server runs in a child process, as in a deployment (``--same-process``
runs it in the client's process instead, where both share one GIL). The
cast rate counts until the server has processed every cast, not just until
the client has published them. ``--library oslo_messaging`` measures
oslo.messaging instead (run with a Python that has it). Everything declared is
deleted after.
"""
from __future__ import annotations

import argparse
import importlib
import multiprocessing
import threading
import time
import uuid

import kombu
from oslo_config import cfg


class Endpoint:
    def __init__(self, expected_casts: int, all_cast) -> None:
        self.casts = 0
        self.expected_casts = expected_casts
        self.all_cast = all_cast
        self._lock = threading.Lock()

    def echo(self, ctxt, value):
        return value

    def count(self, ctxt):
        with self._lock:
            self.casts += 1
            if self.casts == self.expected_casts:
                self.all_cast.set()


def _transport(messaging, url: str):
    # The global config object: oslo.messaging registers some of its options
    # (tracing, metrics) only there and reads them on every call.
    cfg.CONF([], project='rabbit_rates')
    return messaging.get_rpc_transport(cfg.CONF, url)


def serve(library: str, url: str, topic: str, exchange: str, casts: int, ready, all_cast,
          done) -> None:
    """Run an RPC server until ``done`` is set."""
    messaging = importlib.import_module(library)
    transport = _transport(messaging, url)
    server = messaging.get_rpc_server(
        transport, messaging.Target(topic=topic, server='s1', exchange=exchange),
        [Endpoint(casts, all_cast)], executor='threading')
    server.start()
    ready.set()
    done.wait()
    server.stop()
    server.wait()
    transport.cleanup()


def _rate(count: int, seconds: float) -> str:
    return '%6.0f/s  (%d in %.2f s)' % (count / seconds, count, seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--url', default='rabbit://guest:guest@127.0.0.1:5672/')
    parser.add_argument('--calls', type=int, default=2000)
    parser.add_argument('--casts', type=int, default=5000)
    parser.add_argument('--same-process', action='store_true',
                        help='run the server in this process (shares the GIL)')
    parser.add_argument('--library', default='messaging',
                        help='the library to measure: messaging or oslo_messaging')
    args = parser.parse_args()
    messaging = importlib.import_module(args.library)

    suffix = uuid.uuid4().hex[:8]
    topic, exchange = 'bench_%s' % suffix, 'bench_x_%s' % suffix
    if args.same_process:
        events, start = threading, threading.Thread
    else:
        context = multiprocessing.get_context('spawn')
        events, start = context, context.Process
    ready, all_cast, done = events.Event(), events.Event(), events.Event()
    server = start(target=serve, args=(args.library, args.url, topic, exchange, args.casts,
                                       ready, all_cast, done), daemon=True)
    server.start()
    transport = _transport(messaging, args.url)
    client = messaging.get_rpc_client(
        transport, messaging.Target(topic=topic, exchange=exchange), timeout=30)
    try:
        if not ready.wait(60):
            raise SystemExit('the server did not start')
        client.call({}, 'echo', value=0)  # warm up: reply queue, connections
        started = time.perf_counter()
        for value in range(args.calls):
            client.call({}, 'echo', value=value)
        print('sequential calls:   %s' % _rate(args.calls, time.perf_counter() - started))

        started = time.perf_counter()
        for _ in range(args.casts):
            client.cast({}, 'count')
        published = time.perf_counter() - started
        if not all_cast.wait(120):
            raise SystemExit('not every cast arrived within 120 s')
        print('casts (end to end): %s  [publishing took %.2f s]'
              % (_rate(args.casts, time.perf_counter() - started), published))
    finally:
        done.set()
        server.join(30)
        driver = transport._driver
        reply_queue = (getattr(driver, 'reply_queue_name', None)  # messaging
                       or getattr(driver, '_reply_q', None))  # oslo.messaging
        transport.cleanup()
        with kombu.Connection('amqp://' + args.url.split('://', 1)[1]) as conn:
            channel = conn.channel()
            for name in (topic, topic + '.s1', reply_queue):
                if name:
                    channel.queue_delete(name)
            channel.exchange_delete(exchange)


if __name__ == '__main__':
    main()
