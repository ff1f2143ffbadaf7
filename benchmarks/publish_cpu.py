"""CPU time of one basic.publish on each frame engine: the stock engine's
(py-amqp's generic ``basic_publish``) against the lean engine's
(``messaging.drivers.rabbit.engine.frames``).

    PYTHONPATH=. python benchmarks/publish_cpu.py [--url amqp://guest:guest@127.0.0.1:5672//]
        [--count 20000] [--size 400] [--rounds 3]

Publishes to the default exchange with a routing key no queue has (the
broker drops the messages), without publisher confirms, with the properties
the driver sends; prints the process CPU time per publish, encoding and
socket write included, best of the rounds (the machine is noisy). Nothing is
declared.
"""
from __future__ import annotations

import argparse
import time
import uuid

from messaging.drivers.rabbit.engine import ENGINES, lean

PROPERTIES = {'content_type': 'application/json', 'content_encoding': 'utf-8',
              'application_headers': {}, 'delivery_mode': 2, 'priority': 0,
              'expiration': '60000'}


def _cpu_per_publish(publish, count: int) -> float:
    started = time.process_time()
    for _ in range(count):
        publish()
    return (time.process_time() - started) / count * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--url', default='amqp://guest:guest@127.0.0.1:5672//')
    parser.add_argument('--count', type=int, default=20000)
    parser.add_argument('--size', type=int, default=400, help='body bytes')
    parser.add_argument('--rounds', type=int, default=3)
    args = parser.parse_args()
    body = b'x' * args.size
    routing_key = 'publish-cpu-nowhere-%s' % uuid.uuid4().hex

    # One connection for both: the engines' publishes differ, not the socket.
    with lean.kombu_connection([args.url]) as connection:
        channel = connection.default_channel

        def publisher(engine):
            def publish() -> None:
                # The driver encodes properties once per message, as here.
                engine.publish(channel, '', routing_key, body,
                               engine.encode_properties(PROPERTIES))
            return publish

        best: dict[str, float] = {}
        for _ in range(args.rounds):
            for name, engine in sorted(ENGINES.items()):
                cpu = _cpu_per_publish(publisher(engine), args.count)
                best[name] = min(best.get(name, cpu), cpu)
    for name, cpu in best.items():
        print('%-6s engine %6.1f us CPU per publish (%d B body)' % (name, cpu, args.size))


if __name__ == '__main__':
    main()
