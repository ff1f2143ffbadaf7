"""MessageHandlingServer with a trivial subclass on the fake driver."""
import logging
import subprocess
import sys
import textwrap
import threading

import pytest

import messaging
from messaging import server as server_mod
from messaging.drivers import impl_fake, polling

LONG = 5.0
SHORT = 0.2


@pytest.fixture
def transport(conf):
    transport = messaging.get_transport(conf, 'fake://')
    yield transport
    transport.cleanup()


def waiting_on_topic(transport, topic='t'):
    """How many messages wait in the fake broker's queue for ``topic``."""
    exchange = transport._driver._default_exchange
    queues = impl_fake.FakeExchangeManager._exchanges.get(exchange, {})
    return len(queues.get(('topic', exchange, topic, None), []))


class HandlerServer(server_mod.MessageHandlingServer):
    """Hands each incoming message to ``handler``; replies with its result."""

    def __init__(self, transport, target, handler, executor='threading'):
        self.target = target
        self.handler = handler
        super().__init__(transport, None, executor)

    def _create_listener(self):
        return self.transport._listen(self.target, 1, None)

    def _process_incoming(self, incoming):
        for message in incoming:
            message.acknowledge()
            message.reply(self.handler(message))


TARGET = messaging.Target(topic='t', server='s')


def cast(transport, **args):
    transport._send(messaging.Target(topic='t'), {}, {'method': 'm', 'args': args})


def call(transport, timeout=LONG, **args):
    return transport._send(messaging.Target(topic='t'), {}, {'method': 'm', 'args': args},
                           wait_for_reply=True, timeout=timeout)


class Stopper:
    """Stops and waits for a server at the end of a test, whatever happened."""

    def __init__(self):
        self.servers = []

    def add(self, server):
        self.servers.append(server)
        return server


@pytest.fixture
def servers():
    stopper = Stopper()
    yield stopper
    for server in stopper.servers:
        server.stop()
        server.wait()


def test_start_handles_messages_and_stop_wait_finish(transport, servers):
    got = []
    done = threading.Event()

    def handle(message):
        got.append(message.message['args']['n'])
        if len(got) == 3:
            done.set()

    server = servers.add(HandlerServer(transport, TARGET, handle))
    server.start()
    for n in range(3):
        cast(transport, n=n)
    assert done.wait(LONG)
    assert sorted(got) == [0, 1, 2]
    server.stop()
    server.wait()
    assert server.listener is None


def test_call_through_a_server_gets_the_reply(transport, servers):
    server = servers.add(HandlerServer(transport, TARGET,
                                       lambda m: m.message['args']['x'] * 2))
    server.start()
    assert call(transport, x=21) == 42


def test_start_twice_is_a_noop(transport, servers):
    server = servers.add(HandlerServer(transport, TARGET, lambda m: None))
    server.start()
    listener = server.listener
    server.start()
    assert server.listener is listener


def test_server_can_be_restarted_after_stop_and_wait(transport, servers):
    server = servers.add(HandlerServer(transport, TARGET, lambda m: 'ok'))
    server.start()
    server.stop()
    server.wait()
    server.start()
    assert call(transport) == 'ok'


def test_wait_before_start_waits_for_start_then_stop_as_oslo(transport):
    server = HandlerServer(transport, TARGET, lambda m: None)
    with pytest.raises(server_mod.TaskTimeout, match='wait is waiting for stop'):
        server.wait(timeout=SHORT)
    with pytest.raises(server_mod.TaskTimeout, match='stop is waiting for start'):
        server.stop(timeout=SHORT)


def test_a_stop_from_another_thread_before_start_is_not_lost(transport):
    server = HandlerServer(transport, TARGET, lambda m: None)
    stopper = threading.Thread(target=server.stop, daemon=True)
    stopper.start()
    waiter = threading.Thread(target=server.wait, daemon=True)
    waiter.start()
    server.start()
    stopper.join(LONG)
    waiter.join(LONG)
    assert not stopper.is_alive() and not waiter.is_alive()
    assert server.listener is None


def test_server_is_an_oslo_service(transport):
    from oslo_service import service

    assert isinstance(HandlerServer(transport, TARGET, lambda m: None), service.ServiceBase)
    assert server_mod.DEFAULT_LOG_AFTER == 30


def test_stop_while_a_handler_runs_lets_it_finish_and_reply(transport, servers):
    running, release = threading.Event(), threading.Event()
    finished = []

    def slow(message):
        running.set()
        release.wait(LONG)
        finished.append(True)
        return 'finished'

    server = servers.add(HandlerServer(transport, TARGET, slow))
    server.start()
    result = {}
    caller = threading.Thread(target=lambda: result.update(reply=call(transport)),
                              daemon=True)
    caller.start()
    assert running.wait(LONG)
    server.stop()
    waiter = threading.Thread(target=server.wait, daemon=True)
    waiter.start()
    waiter.join(SHORT)
    assert waiter.is_alive(), 'wait() returned while a handler was still running'
    release.set()
    waiter.join(LONG)
    caller.join(LONG)
    assert not waiter.is_alive()
    assert finished == [True]
    assert result == {'reply': 'finished'}


def test_stopped_server_takes_no_new_messages(transport, servers):
    got = []
    server = servers.add(HandlerServer(transport, TARGET, got.append))
    server.start()
    server.stop()
    server.wait()
    cast(transport, n=1)
    assert got == []
    assert waiting_on_topic(transport) == 1


class _WarningSeen(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.seen = threading.Event()
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())
        self.seen.set()


def test_wait_without_stop_logs_a_possible_hang_and_waits_for_stop(transport, servers):
    server = servers.add(HandlerServer(transport, TARGET, lambda m: None))
    server.start()
    handler = _WarningSeen()
    logger = logging.getLogger('messaging._lifecycle')
    logger.addHandler(handler)
    try:
        waiter = threading.Thread(target=server.wait, kwargs={'log_after': SHORT},
                                  daemon=True)
        waiter.start()
        assert handler.seen.wait(LONG)
        assert handler.messages[0] == 'Possible hang: wait is waiting for stop to complete'
        assert waiter.is_alive()
        server.stop()
        waiter.join(LONG)
        assert not waiter.is_alive()
    finally:
        logger.removeHandler(handler)


def test_unknown_executor_raises_executor_load_failure(transport):
    with pytest.raises(messaging.ExecutorLoadFailure) as info:
        HandlerServer(transport, TARGET, lambda m: None, executor='no-such-executor')
    assert info.value.executor == 'no-such-executor'
    assert 'no-such-executor' in str(info.value)


def test_a_bad_target_on_start_raises_invalid_target_as_oslo(transport):
    server = HandlerServer(transport, messaging.Target(topic='t'), lambda m: None)
    with pytest.raises(messaging.InvalidTarget):
        server.start()
    server.stop()
    server.wait()


def test_a_driver_failure_on_start_raises_server_listen_error(transport):
    from messaging.drivers import base as driver_base

    class FailingServer(HandlerServer):
        def _create_listener(self):
            raise driver_base.TransportDriverError('cannot listen')

    server = FailingServer(transport, TARGET, lambda m: None)
    with pytest.raises(messaging.ServerListenError) as info:
        server.start()
    assert str(info.value.ex) == 'cannot listen'
    server.stop()
    server.wait()


def test_handler_errors_are_logged_and_the_server_keeps_going(transport, servers):
    def handle(message):
        if message.message['args']['n'] == 0:
            raise RuntimeError('handler blew up')
        return 'ok'

    server = servers.add(HandlerServer(transport, TARGET, handle))
    server.start()
    handler = _WarningSeen()
    logger = logging.getLogger('messaging.server')
    logger.addHandler(handler)
    try:
        cast(transport, n=0)
        assert handler.seen.wait(LONG)
        assert call(transport, n=1) == 'ok'
    finally:
        logger.removeHandler(handler)
    assert 'Unhandled error' in handler.messages[0]


def test_threading_executor_bounds_concurrency_to_the_pool_size(conf, transport, servers):
    conf.set_override('executor_thread_pool_size', 2)
    lock = threading.Lock()
    state = {'running': 0, 'max': 0, 'started': 0}
    two_running, third_started, release = threading.Event(), threading.Event(), \
        threading.Event()
    all_done = threading.Semaphore(0)

    def handle(message):
        with lock:
            state['running'] += 1
            state['started'] += 1
            state['max'] = max(state['max'], state['running'])
            if state['started'] == 2:
                two_running.set()
            if state['started'] == 3:
                third_started.set()
        release.wait(LONG)
        with lock:
            state['running'] -= 1
        all_done.release()

    server = servers.add(HandlerServer(transport, TARGET, handle))
    server.start()
    for n in range(6):
        cast(transport, n=n)
    assert two_running.wait(LONG)
    assert not third_started.wait(SHORT)
    # Beyond the busy workers (and the one message in the poller's hand) the
    # rest stay on the broker for other servers.
    assert waiting_on_topic(transport) >= 3
    release.set()
    for _ in range(6):
        assert all_done.acquire(timeout=LONG)
    assert state['max'] == 2


def test_override_pool_size_wins_over_config(conf, transport, servers):
    conf.set_override('executor_thread_pool_size', 64)
    running = threading.Semaphore(0)
    release = threading.Event()

    def handle(message):
        running.release()
        release.wait(LONG)

    server = servers.add(HandlerServer(transport, TARGET, handle))
    server.start(override_pool_size=1)
    cast(transport)
    cast(transport)
    assert running.acquire(timeout=LONG)
    assert not running.acquire(timeout=SHORT)
    release.set()


def test_reset_is_kept_for_compatibility(transport):
    HandlerServer(transport, TARGET, lambda m: None).reset()


EVENTLET_SCRIPT = textwrap.dedent('''
    import eventlet
    eventlet.monkey_patch()

    from oslo_config import cfg
    import messaging
    from messaging import server as server_mod

    class Server(server_mod.MessageHandlingServer):
        def _create_listener(self):
            return self.transport._listen(messaging.Target(topic='t', server='s'), 1, None)

        def _process_incoming(self, incoming):
            for message in incoming:
                message.acknowledge()
                message.reply(message.message['args']['x'] + 1)

    conf = cfg.ConfigOpts()
    conf([])
    transport = messaging.get_transport(conf, 'fake://')
    server = Server(transport, None, executor='eventlet')
    server.start()
    results = [transport._send(messaging.Target(topic='t'), {},
                               {'method': 'm', 'args': {'x': x}},
                               wait_for_reply=True, timeout=10) for x in range(3)]
    server.stop()
    server.wait()
    transport.cleanup()
    print('RESULTS', results)
''')


def test_eventlet_executor_smoke_in_a_monkey_patched_process():
    pytest.importorskip('eventlet')
    done = subprocess.run([sys.executable, '-c', EVENTLET_SCRIPT], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert 'RESULTS [1, 2, 3]' in done.stdout
    assert 'not monkey-patched' not in done.stderr


def test_exceptions_are_exported():
    for name in server_mod.__all__:
        assert getattr(messaging, name) is getattr(server_mod, name)
    assert issubclass(messaging.ServerListenError, messaging.MessagingServerError)
    assert issubclass(messaging.ExecutorLoadFailure, messaging.MessagingServerError)


class FlakyListener:
    """Wraps a polled listener; its first poll raises, as a dropped
    connection would."""

    batch_size, batch_timeout = 1, None

    def __init__(self, listener):
        self._listener = listener
        self.failed = threading.Event()

    def poll(self, *args, **kwargs):
        if not self.failed.is_set():
            self.failed.set()
            raise ConnectionError('connection dropped')
        return self._listener.poll(*args, **kwargs)

    def stop(self):
        self._listener.stop()

    def cleanup(self):
        self._listener.cleanup()


def test_a_failing_poll_is_logged_and_the_server_keeps_taking_messages(
        transport, servers, monkeypatch):
    monkeypatch.setattr(polling, 'POLL_RETRY_DELAY', 0.01)

    class FlakyServer(HandlerServer):
        def _create_listener(self):
            self.flaky = FlakyListener(super()._create_listener().poll_style_listener)
            return self.flaky

    server = servers.add(FlakyServer(transport, TARGET, lambda m: 'still serving'))
    handler = _WarningSeen()
    logger = logging.getLogger(polling.__name__)
    logger.addHandler(handler)
    try:
        server.start()
        assert handler.seen.wait(LONG)
        assert call(transport) == 'still serving'
    finally:
        logger.removeHandler(handler)
    assert 'Polling for messages failed' in handler.messages[0]


def test_stop_is_prompt_while_polls_keep_failing(transport):
    class BrokenListener:
        batch_size, batch_timeout = 1, None

        def __init__(self):
            self.polled = threading.Event()

        def poll(self, *args, **kwargs):
            self.polled.set()
            raise ConnectionError('broker gone')

        def stop(self):
            pass

        def cleanup(self):
            pass

    class BrokenServer(HandlerServer):
        def _create_listener(self):
            self.broken = BrokenListener()
            return self.broken

    server = BrokenServer(transport, TARGET, lambda m: None)
    server.start()
    assert server.broken.polled.wait(LONG)
    server.stop()
    waiter = threading.Thread(target=server.wait, daemon=True)
    waiter.start()
    waiter.join(LONG / 2)
    assert not waiter.is_alive()
