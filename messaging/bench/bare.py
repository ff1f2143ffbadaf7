"""The floors: the fastest plain py-amqp code for the benchmark's loops.

    python bare.py URL SIZES COUNT

Two floors, each per payload size, with the body the library workloads
carry (a JSON object naming the method and holding the payload string),
encoded and decoded once on each side:

- ``call``, the round-trip floor: a server thread on a connection of its
  own consumes the request queue with ``no_ack`` and publishes each reply
  straight to the client's reply queue; the client, on its own connection,
  consumes the reply queue with ``no_ack`` and sends the next request when
  the reply is in. No publisher confirms, no acks, no envelope.
- ``cast``, the confirmed-publish floor: a publisher whose channel is in
  confirm mode (each publish waits for its own confirm, as the libraries'
  casts and notifications do) sends the messages to a consumer on another
  connection (``no_ack``); the rate is the count over the time until the
  last one was consumed. This is the floor of casts and notifications.

Only py-amqp's public API is used. Run by path (under our interpreter, as
``workload.py`` is); one JSON object with the results goes to stdout, and
both queues, uniquely named, are deleted at the end.
"""
from __future__ import annotations

import functools
import json
import resource
import sys
import threading
import time
import uuid
from typing import Any

if __package__:
    from messaging.bench import workload
else:  # run by path: workload.py is beside this file
    import workload

STEPS_PER_SIZE = 2


def steps(sizes: list[int]) -> int:
    """How many times :func:`run` reports progress."""
    return len(sizes) * STEPS_PER_SIZE


def request_body(value: str) -> bytes:
    """A request as the floors send it: the payload in a small JSON object."""
    return json.dumps({'method': 'echo', 'args': {'value': value}}).encode()


class RoundTripFloor:
    """Sequential request/reply between a server thread and a client, each on
    a connection of its own, without acks or confirms."""

    def __init__(self, url: str, suffix: str) -> None:
        import amqp

        self._message = amqp.Message
        self.request_queue = 'bench_bare_rpc_%s' % suffix
        self.reply_queue = 'bench_bare_reply_%s' % suffix
        self._reply: Any = None
        # Reads block without a per-read timeout (py-amqp changes the socket's
        # timeout around every read that has one); read_timeout bounds them
        # once, on the socket, should a reply never come.
        self._client = workload.connect(url, read_timeout=workload.CALL_TIMEOUT)
        self._client_channel = self._client.channel()
        self._server = workload.connect(url)
        self._server_channel = self._server.channel()
        for name in (self.request_queue, self.reply_queue):
            self._client_channel.queue_declare(name, auto_delete=False)
        self._client_channel.basic_consume(self.reply_queue, no_ack=True,
                                           callback=self._on_reply)
        self._server_channel.basic_consume(self.request_queue, no_ack=True,
                                           callback=self._serve)
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run_server, daemon=True,
                                        name='bench-bare-server')
        self._thread.start()

    def _serve(self, message: Any) -> None:
        request = json.loads(message.body)
        if request['method'] == 'stop':
            self._stopped.set()
            return
        reply = json.dumps({'result': request['args']['value']}).encode()
        self._server_channel.basic_publish(self._message(reply), '', self.reply_queue)

    def _run_server(self) -> None:
        # Reads without a timeout, as the client's; close() ends the loop
        # with a 'stop' request.
        while not self._stopped.is_set():
            self._server.drain_events()

    def _on_reply(self, message: Any) -> None:
        self._reply = message

    def call(self, value: str) -> Any:
        """One request and its reply; the reply's payload."""
        self._reply = None
        self._client_channel.basic_publish(self._message(request_body(value)), '',
                                           self.request_queue)
        while self._reply is None:
            self._client.drain_events()
        return json.loads(self._reply.body)['result']

    def close(self) -> None:
        """Stop the server thread and close both connections."""
        stop = json.dumps({'method': 'stop'}).encode()
        self._client_channel.basic_publish(self._message(stop), '', self.request_queue)
        self._thread.join(workload.CALL_TIMEOUT)
        self._client.close()
        self._server.close()


class ConfirmedPublishFloor:
    """Publishes with a confirm per message to a consumer on another
    connection; :meth:`run` times the messages end to end."""

    def __init__(self, url: str, suffix: str) -> None:
        import amqp

        self._message = amqp.Message
        self.queue = 'bench_bare_cast_%s' % suffix
        # confirm_publish: py-amqp puts the channel in confirm mode and
        # basic_publish waits for the broker's confirm of each message.
        self._publisher = workload.connect(url, confirm_publish=True)
        self._publish_channel = self._publisher.channel()
        self._consumer = workload.connect(url, read_timeout=workload.END_TO_END_TIMEOUT)
        consume_channel = self._consumer.channel()
        consume_channel.queue_declare(self.queue, auto_delete=False)
        self._received = 0
        consume_channel.basic_consume(self.queue, no_ack=True, callback=self._on_message)

    def _on_message(self, message: Any) -> None:
        json.loads(message.body)
        self._received += 1

    def _consume(self, count: int) -> None:
        while self._received < count:
            self._consumer.drain_events()

    def run(self, count: int, value: str) -> tuple[float, float]:
        """Publish ``count`` messages; the seconds until the last was
        consumed, and the seconds the confirmed publishing took."""
        self._received = 0
        consumer = threading.Thread(target=self._consume, args=(count,), daemon=True,
                                    name='bench-bare-consumer')
        consumer.start()
        started = time.perf_counter()
        for _ in range(count):
            self._publish_channel.basic_publish(self._message(request_body(value)), '',
                                                self.queue)
        published = time.perf_counter() - started
        consumer.join(workload.END_TO_END_TIMEOUT)
        if consumer.is_alive():
            raise RuntimeError('only %d of %d messages arrived within %s s'
                               % (self._received, count, workload.END_TO_END_TIMEOUT))
        return time.perf_counter() - started, published

    def close(self) -> None:
        """Close both connections."""
        self._publisher.close()
        self._consumer.close()


def run(url: str, sizes: list[int], count: int) -> dict:
    """Both floors at every size; the results as a JSON-able dict, with the
    keys of the library workloads they are the floors of."""
    suffix = uuid.uuid4().hex[:10]
    results: dict = {'library': 'amqp', 'sizes': {}}
    round_trip = confirmed = None
    try:
        round_trip = RoundTripFloor(url, suffix)
        confirmed = ConfirmedPublishFloor(url, suffix)
        round_trip.call('warm-up')
        confirmed.run(1, 'warm-up')
        for size in sizes:
            value = 'x' * size
            n = workload.count_for(count, size)
            workload.progress('amqp: %d B: %d round trips' % (size, n))
            elapsed, latencies = workload.timed_loop(
                n, 1, functools.partial(round_trip.call, value))
            sized = {'call': {'count': n, 'seconds': elapsed, 'latencies': latencies}}
            workload.progress('amqp: %d B: %d confirmed publishes' % (size, n))
            elapsed, published = confirmed.run(n, value)
            sized['cast'] = {'count': n, 'seconds': elapsed, 'publish_seconds': published}
            results['sizes'][str(size)] = sized
    finally:
        for floor in (round_trip, confirmed):
            if floor is not None:
                floor.close()
        workload.delete_declared(url, ['bench_bare_rpc_%s' % suffix,
                                       'bench_bare_reply_%s' % suffix,
                                       'bench_bare_cast_%s' % suffix], [])
    # ru_maxrss is in KiB on Linux.
    results['peak_rss_mb'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    return results


def main(argv: list[str]) -> int:
    url, sizes, count = argv
    json.dump(run(url, [int(s) for s in sizes.split(',')], int(count)), sys.stdout)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
