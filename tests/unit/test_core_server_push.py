"""A server whose listener pushes: no poll thread, a bound that never
blocks the listener's I/O thread, and deliveries not started given back."""
import threading

import pytest

import messaging
from messaging import server as server_mod
from messaging.drivers import base

LONG = 5.0


class Incoming(base.IncomingMessage):
    def acknowledge(self):
        pass

    def requeue(self):
        pass


class Delivery(base.Delivery):
    def __init__(self, n):
        self.n = n
        self.given_back = False

    def decode(self):
        return Incoming({}, {'n': self.n})

    def release(self):
        self.given_back = True


class PushingListener(base.Listener):
    """Records the server's deliver callback; never polled."""

    def __init__(self):
        super().__init__()
        self.deliver = None
        self.stopped = threading.Event()

    def start_push(self, deliver):
        self.deliver = deliver
        return True

    def _poll_one(self, timeout):
        raise AssertionError('a pushing listener is not polled')

    def stop(self):
        self.stopped.set()

    def cleanup(self):
        pass


class Server(server_mod.MessageHandlingServer):
    def __init__(self, transport, listener, handle):
        self._listener = listener
        self._handle_one = handle
        super().__init__(transport, None, 'threading')

    def _create_listener(self):
        return self._listener

    def _process_incoming(self, incoming):
        for message in incoming:
            self._handle_one(message.message['n'])


@pytest.fixture
def transport(conf):
    transport = messaging.get_transport(conf, 'fake://')
    yield transport
    transport.cleanup()


def test_a_pushing_listener_gets_no_poll_thread_and_its_messages_are_handled(
        conf, transport):
    handled = threading.Semaphore(0)
    seen = []
    listener = PushingListener()
    server = Server(transport, listener, lambda n: (seen.append(n), handled.release()))
    before = {t.name for t in threading.enumerate()}
    server.start()
    assert not any(t.name == 'messaging-poller'
                   for t in threading.enumerate() if t.name not in before)
    for n in range(3):
        listener.deliver(Delivery(n))
    for _ in range(3):
        assert handled.acquire(timeout=LONG)
    server.stop()
    server.wait()
    assert sorted(seen) == [0, 1, 2]


def test_deliveries_waiting_at_stop_are_given_back_and_running_ones_finish(
        conf, transport):
    conf.set_override('executor_thread_pool_size', 1)
    running, release = threading.Event(), threading.Event()
    finished = []

    def handle(n):
        running.set()
        release.wait(LONG)
        finished.append(n)

    listener = PushingListener()
    server = Server(transport, listener, handle)
    server.start()
    deliveries = [Delivery(n) for n in range(4)]
    for delivery in deliveries:
        listener.deliver(delivery)  # never blocks, though only one may run
    assert running.wait(LONG)
    server.stop()
    assert listener.stopped.is_set()
    assert [d.given_back for d in deliveries] == [False, True, True, True]
    release.set()
    server.wait()
    assert finished == [0]
