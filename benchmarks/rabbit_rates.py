"""Sequential RPC call rate and end-to-end cast rate on a RabbitMQ broker.

    python benchmarks/rabbit_rates.py [--url rabbit://guest:guest@127.0.0.1:5672/]
        [--calls 2000] [--casts 5000]

The cast rate counts until the server has processed every cast, not just
until the client has published them. Everything declared is deleted after.
"""
from __future__ import annotations

import argparse
import threading
import time
import uuid

import kombu
from oslo_config import cfg

import messaging


class Endpoint:
    def __init__(self, expected_casts: int) -> None:
        self.casts = 0
        self.expected_casts = expected_casts
        self.all_cast = threading.Event()

    def echo(self, ctxt, value):
        return value

    def count(self, ctxt):
        # One executor thread at a time may run this: count under the GIL
        # is good enough as only the total matters.
        self.casts += 1
        if self.casts >= self.expected_casts:
            self.all_cast.set()


def _rate(count: int, seconds: float) -> str:
    return '%8.0f/s  (%d in %.2f s)' % (count / seconds, count, seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--url', default='rabbit://guest:guest@127.0.0.1:5672/')
    parser.add_argument('--calls', type=int, default=2000)
    parser.add_argument('--casts', type=int, default=5000)
    args = parser.parse_args()

    conf = cfg.ConfigOpts()
    conf([])
    suffix = uuid.uuid4().hex[:8]
    topic, exchange = 'bench_%s' % suffix, 'bench_x_%s' % suffix
    server_transport = messaging.get_rpc_transport(conf, args.url)
    client_transport = messaging.get_rpc_transport(conf, args.url)
    endpoint = Endpoint(args.casts)
    server = messaging.get_rpc_server(
        server_transport, messaging.Target(topic=topic, server='s1', exchange=exchange),
        [endpoint], executor='threading')
    server.start()
    client = messaging.get_rpc_client(
        client_transport, messaging.Target(topic=topic, exchange=exchange), timeout=30)
    try:
        client.call({}, 'echo', value=0)  # warm up: reply queue, connections
        started = time.perf_counter()
        for value in range(args.calls):
            client.call({}, 'echo', value=value)
        print('sequential calls: %s' % _rate(args.calls, time.perf_counter() - started))

        started = time.perf_counter()
        for _ in range(args.casts):
            client.cast({}, 'count')
        published = time.perf_counter() - started
        if not endpoint.all_cast.wait(120):
            raise SystemExit('only %d of %d casts arrived' % (endpoint.casts, args.casts))
        print('casts (end to end): %s  [publishing took %.2f s]'
              % (_rate(args.casts, time.perf_counter() - started), published))
    finally:
        server.stop()
        server.wait()
        reply_queue = client_transport._driver.reply_queue_name
        client_transport.cleanup()
        server_transport.cleanup()
        with kombu.Connection('amqp://' + args.url.split('://', 1)[1]) as conn:
            channel = conn.channel()
            for name in (topic, topic + '.s1', reply_queue):
                channel.queue_delete(name)
            channel.exchange_delete(exchange)


if __name__ == '__main__':
    main()
