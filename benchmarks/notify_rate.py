"""Notifications per second, end to end, on a real RabbitMQ.

Sends ``--count`` notifications with a Notifier while a notification listener
consumes them, and prints the publish rate (notifier side) and the end-to-end
rate (first send to last delivery). Uses its own exchange and topic and
deletes them afterwards.

    python benchmarks/notify_rate.py --url rabbit://guest:guest@127.0.0.1:5672/
"""
from __future__ import annotations

import argparse
import os
import threading
import time
import uuid

import kombu
from oslo_config import cfg

import messaging
from messaging import options

DEFAULT_URL = os.environ.get('MESSAGING_TEST_RABBIT_URL',
                             'rabbit://guest:guest@127.0.0.1:5672/')


class Counter:
    """An endpoint that signals once it has seen ``expected`` notifications."""

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.seen = 0
        self.done = threading.Event()
        self._lock = threading.Lock()

    def info(self, ctxt, publisher_id, event_type, payload, metadata):
        with self._lock:
            self.seen += 1
            if self.seen >= self.expected:
                self.done.set()


def _transport(url: str, exchange: str):
    conf = cfg.ConfigOpts()
    options.register_default_opts(conf)
    conf.set_override('control_exchange', exchange)
    return messaging.get_notification_transport(conf, url)


def run(url: str, count: int, driver: str, timeout: float) -> dict:
    """Send ``count`` notifications and measure; returns the rates."""
    exchange = 'bench_nex_' + uuid.uuid4().hex[:8]
    topic = 'bench_ntopic_' + uuid.uuid4().hex[:8]
    counter = Counter(count + 1)  # + the untimed warm-up notification
    listen_transport, send_transport = _transport(url, exchange), _transport(url, exchange)
    listener = messaging.get_notification_listener(
        listen_transport, [messaging.Target(exchange=exchange, topic=topic)], [counter])
    listener.start()
    try:
        notifier = messaging.Notifier(send_transport, 'bench', driver=driver, topics=[topic])
        notifier.info({}, 'bench.warmup', {})  # connection and declarations, not timed
        payload = {'instance_id': str(uuid.uuid4()), 'state': 'active', 'n': 0}
        start = time.monotonic()
        for n in range(count):
            payload['n'] = n
            notifier.info({}, 'bench.event', payload)
        sent = time.monotonic()
        if not counter.done.wait(timeout):
            raise SystemExit('only %d of %d notifications arrived within %ss'
                             % (counter.seen, count + 1, timeout))
        received = time.monotonic()
    finally:
        listener.stop()
        listener.wait()
        send_transport.cleanup()
        listen_transport.cleanup()
        _delete(url, exchange, topic + '.info')
    return {'publish_rate': count / (sent - start),
            'end_to_end_rate': count / (received - start),
            'seconds': received - start}


def _delete(url: str, exchange: str, queue: str) -> None:
    with kombu.Connection('amqp://' + url.split('://', 1)[1]) as conn:
        channel = conn.channel()
        channel.queue_delete(queue)
        channel.exchange_delete(exchange)
        channel.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--url', default=DEFAULT_URL)
    parser.add_argument('--count', type=int, default=5000)
    parser.add_argument('--driver', default='messagingv2', choices=['messaging', 'messagingv2'])
    parser.add_argument('--timeout', type=float, default=120)
    args = parser.parse_args()
    result = run(args.url, args.count, args.driver, args.timeout)
    print('%d notifications (%s): publish %.0f/s, end to end %.0f/s (%.2fs)'
          % (args.count, args.driver, result['publish_rate'], result['end_to_end_rate'],
             result['seconds']))


if __name__ == '__main__':
    main()
