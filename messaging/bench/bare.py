"""The floors: the fastest plain py-amqp code for the benchmark's loops.

    python bare.py URL SIZES COUNT MODE

Two floors, each per payload size, with the body the library workloads
carry (a JSON object naming the method and holding the payload string),
encoded and decoded once on each side:

- ``call``, the round-trip floor: an echo server on a connection of its
  own consumes the request queue with ``no_ack`` and publishes each reply
  straight to the client's reply queue; the client, on its own connection,
  consumes the reply queue with ``no_ack`` and sends the next request when
  the reply is in. No publisher confirms, no acks, no envelope.
- ``cast``, the confirmed-publish floor: a publisher whose channel is in
  confirm mode (each publish waits for its own confirm, as the libraries'
  casts and notifications do) sends the messages to a consumer on another
  connection (``no_ack``); the rate is the count over the time until the
  last one was consumed. This is the floor of casts and notifications.

With ``MODE`` ``cross-process`` the echo server and the consumer run in a
process of their own (``peer.py``), as the libraries' servers do in that
mode; with ``same-process``, on threads beside the client and publisher.
Only py-amqp's public API is used. Run by path (under our interpreter, as
``workload.py`` is); one JSON object with the results goes to stdout, and
the queues, uniquely named, are deleted at the end.
"""
from __future__ import annotations

import functools
import json
import sys
import threading
import uuid
from typing import Any

if __package__:
    from messaging.bench import peer, workload
else:  # run by path: the modules are beside this file
    import peer
    import workload

STEPS_PER_SIZE = 2


def steps(sizes: list[int]) -> int:
    """How many times :func:`run` reports progress."""
    return len(sizes) * STEPS_PER_SIZE


def request_body(value: str) -> bytes:
    """A request as the floors send it: the payload in a small JSON object."""
    return json.dumps({'method': 'echo', 'args': {'value': value}}).encode()


def _stop_body() -> bytes:
    return json.dumps({'method': 'stop'}).encode()


class _Consuming:
    """A connection of its own consuming one queue with ``no_ack`` on a
    thread until a ``stop`` message comes; ``handle`` gets each other
    message's decoded body."""

    def __init__(self, url: str, queue: str, name: str) -> None:
        self._url = url
        self.queue = queue
        # Reads block without a per-read timeout (py-amqp changes the
        # socket's timeout around every read that has one).
        self.connection = workload.connect(url)
        self.channel = self.connection.channel()
        self.channel.queue_declare(queue, auto_delete=False)
        self.channel.basic_consume(queue, no_ack=True, callback=self._on_message)
        self._stopped = False
        self._thread = threading.Thread(target=self._run, daemon=True, name=name)
        self._thread.start()

    def _on_message(self, message: Any) -> None:
        body = json.loads(message.body)
        if body['method'] == 'stop':
            self._stopped = True
        else:
            self.handle(body)

    def handle(self, body: dict) -> None:
        raise NotImplementedError

    def _run(self) -> None:
        while not self._stopped:
            self.connection.drain_events()

    def close(self) -> None:
        """Stop the thread with a ``stop`` message and close the connection."""
        import amqp

        stopper = workload.connect(self._url)
        try:
            stopper.channel().basic_publish(amqp.Message(_stop_body()), '', self.queue)
        finally:
            stopper.close()
        self._thread.join(workload.CALL_TIMEOUT)
        self.connection.close()


class EchoServer(_Consuming):
    """The server of the round-trip floor: each request's payload straight
    back to the reply queue, without acks or confirms."""

    def __init__(self, url: str, suffix: str) -> None:
        import amqp

        self._message = amqp.Message
        self.reply_queue = 'bench_bare_reply_%s' % suffix
        super().__init__(url, 'bench_bare_rpc_%s' % suffix, 'bench-bare-server')

    def handle(self, body: dict) -> None:
        reply = json.dumps({'result': body['args']['value']}).encode()
        self.channel.basic_publish(self._message(reply), '', self.reply_queue)


class CountingConsumer(_Consuming):
    """The consumer of the confirmed-publish floor: decodes and counts."""

    def __init__(self, url: str, suffix: str) -> None:
        self.counter = workload.Counter()
        super().__init__(url, 'bench_bare_cast_%s' % suffix, 'bench-bare-consumer')

    def handle(self, body: dict) -> None:
        self.counter.hit()


class FloorServers:
    """The server side of both floors: the echo server and the counting
    consumer, each on a connection and thread of its own."""

    def __init__(self, url: str, suffix: str) -> None:
        self._echo = EchoServer(url, suffix)
        try:
            self._consumer = CountingConsumer(url, suffix)
        except BaseException:
            self._echo.close()
            raise
        self.counter = self._consumer.counter

    def declared(self) -> tuple[list[str], list[str]]:
        return [self._echo.queue, self._consumer.queue], []

    def close(self) -> None:
        self._echo.close()
        self._consumer.close()


class RoundTripClient:
    """The client of the round-trip floor: a request, then a ``no_ack``
    wait on its own reply queue for the reply, on a connection of its own."""

    def __init__(self, url: str, suffix: str) -> None:
        import amqp

        self._message = amqp.Message
        self.request_queue = 'bench_bare_rpc_%s' % suffix
        self.reply_queue = 'bench_bare_reply_%s' % suffix
        self._reply: Any = None
        # read_timeout bounds the reads once, on the socket, should a reply
        # never come.
        self._connection = workload.connect(url, read_timeout=workload.CALL_TIMEOUT)
        self._channel = self._connection.channel()
        for name in (self.request_queue, self.reply_queue):
            self._channel.queue_declare(name, auto_delete=False)
        self._channel.basic_consume(self.reply_queue, no_ack=True, callback=self._on_reply)

    def _on_reply(self, message: Any) -> None:
        self._reply = message

    def call(self, value: str) -> Any:
        """One request and its reply; the reply's payload."""
        self._reply = None
        self._channel.basic_publish(self._message(request_body(value)), '',
                                    self.request_queue)
        while self._reply is None:
            self._connection.drain_events()
        return json.loads(self._reply.body)['result']

    def declared(self) -> tuple[list[str], list[str]]:
        return [self.reply_queue], []

    def close(self) -> None:
        self._connection.close()


class ConfirmedPublisher:
    """The publisher of the confirmed-publish floor: each publish waits for
    its own publisher confirm, as the libraries' casts and notifications do."""

    def __init__(self, url: str, suffix: str) -> None:
        import amqp

        self._message = amqp.Message
        self.queue = 'bench_bare_cast_%s' % suffix
        # confirm_publish: py-amqp puts the channel in confirm mode and
        # basic_publish waits for the broker's confirm of each message.
        self._connection = workload.connect(url, confirm_publish=True)
        self._channel = self._connection.channel()

    def publish(self, value: str) -> None:
        self._channel.basic_publish(self._message(request_body(value)), '', self.queue)

    def declared(self) -> tuple[list[str], list[str]]:
        return [], []

    def close(self) -> None:
        self._connection.close()


def run(url: str, sizes: list[int], count: int, cross_process: bool = True) -> dict:
    """Both floors at every size; the results as a JSON-able dict, with the
    keys of the library workloads they are the floors of.

    With ``cross_process`` the echo server and the consumer run in a
    :class:`peer.Peer` process, else on threads of this one.
    """
    suffix = uuid.uuid4().hex[:10]
    results: dict = {'library': 'amqp', 'cross_process': cross_process, 'sizes': {}}
    servers = (peer.Peer('amqp', url, suffix) if cross_process
               else FloorServers(url, suffix))
    round_trip = publisher = None
    try:
        round_trip = RoundTripClient(url, suffix)
        publisher = ConfirmedPublisher(url, suffix)
        sides = workload.sides_of(servers)
        round_trip.call('warm-up')
        workload.end_to_end(1, servers.counter, functools.partial(publisher.publish, 'warm-up'))
        for size in sizes:
            value = 'x' * size
            n = workload.count_for(count, size)
            workload.progress('amqp: %d B: %d round trips' % (size, n))
            sized = {'call': workload.timed_calls(sides, n, 1,
                                                  functools.partial(round_trip.call, value))}
            workload.progress('amqp: %d B: %d confirmed publishes' % (size, n))
            sized['cast'] = workload.timed_end_to_end(
                sides, n, servers.counter, functools.partial(publisher.publish, value))
            results['sizes'][str(size)] = sized
    finally:
        workload.close_all(url, [round_trip, publisher, servers])
    return workload.finish(results, servers)


def main(argv: list[str]) -> int:
    url, sizes, count, mode = argv
    json.dump(run(url, [int(s) for s in sizes.split(',')], int(count),
                  cross_process=workload.parse_mode(mode)), sys.stdout)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
