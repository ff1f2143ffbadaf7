"""Helpers for the rabbit driver's functional tests: raw AMQP access,
polling with a deadline, a listener served on a thread, and a wait for a
log record."""
from __future__ import annotations

import contextlib
import json
import logging
import os
import subprocess
import threading
import time
import uuid
from pathlib import Path


WAIT = 10


def capture_queue(channel, broker_cleanup, exchange, key, kind='topic'):
    name = broker_cleanup.queue('test_capture_' + uuid.uuid4().hex[:10])
    channel.exchange_declare(exchange, kind, durable=False, auto_delete=kind == 'fanout')
    channel.queue_declare(name, durable=False, auto_delete=False)
    channel.queue_bind(name, exchange, key)
    return name


def get_raw(channel, queue_name, timeout=WAIT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        message = channel.basic_get(queue_name, no_ack=True)
        if message is not None:
            return message
        time.sleep(0.02)
    raise AssertionError('nothing arrived on %s within %s s' % (queue_name, timeout))


def publish_raw(channel, exchange, key, body, content_type='application/json'):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    channel.basic_publish(channel.prepare_message(data, content_type=content_type,
                                                  content_encoding='utf-8'),
                          exchange, key)


def poll(listener, count=1, timeout=WAIT):
    got = []
    deadline = time.monotonic() + timeout
    while len(got) < count and time.monotonic() < deadline:
        got.extend(listener.poll(timeout=deadline - time.monotonic()))
    return got


class Responder:
    """Serves a listener on a thread, replying with ``handler(incoming)``."""

    def __init__(self, listener, handler=lambda m: m.message.get('args')):
        self.listener = listener
        self.handler = handler
        self.received = []
        self._arrived = threading.Condition()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while True:
            batch = self.listener.poll()
            if not batch:
                return
            for incoming in batch:
                with self._arrived:
                    self.received.append(incoming)
                    self._arrived.notify_all()
                if incoming.msg_id:
                    incoming.reply(self.handler(incoming))

    def wait_for(self, count, timeout=WAIT):
        """The first ``count`` messages received, once they have arrived."""
        with self._arrived:
            if not self._arrived.wait_for(lambda: len(self.received) >= count, timeout):
                raise AssertionError('%d message(s) arrived within %s s, not %d'
                                     % (len(self.received), timeout, count))
            return self.received[:count]

    def wait_until(self, predicate, timeout=WAIT):
        """Wait until ``predicate(received)`` holds for the messages so far."""
        with self._arrived:
            if not self._arrived.wait_for(lambda: predicate(self.received), timeout):
                raise AssertionError('condition not met within %s s; received %r'
                                     % (timeout, [m.message for m in self.received]))

    def stop(self):
        self.listener.stop()
        self._thread.join(timeout=WAIT)
        self.listener.cleanup()


class _Awaited(logging.Handler):
    """Lets a test wait for a log record of ``level`` with ``words`` in it."""

    def __init__(self, level: str, words: str) -> None:
        super().__init__()
        self.level_name, self.words = level, words
        self.seen = threading.Event()
        self.message = ''

    def emit(self, record: logging.LogRecord) -> None:
        if (not self.seen.is_set() and record.levelname == self.level_name
                and self.words in record.getMessage()):
            self.message = record.getMessage()
            self.seen.set()


@contextlib.contextmanager
def hearing(logger_name: str, handler: logging.Handler, level: int):
    """Have ``handler`` hear the records of ``logger_name`` from ``level``
    up, from every thread, for the block; yields the handler."""
    logger = logging.getLogger(logger_name)
    was = logger.level
    logger.setLevel(level)
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(was)


@contextlib.contextmanager
def awaiting(level: str, words: str):
    """Run the block, then wait (up to ``WAIT``) for a record of the rabbit
    driver at ``level`` (INFO or DEBUG) with ``words`` in it; yields the
    handler (``.seen`` is set once it came, ``.message`` is its text). The
    record is read from the handler that saw it, not from caplog, which a
    record from another thread may reach later."""
    with hearing('messaging.drivers.rabbit', _Awaited(level, words),
                 min(logging.INFO, logging.getLevelName(level))) as handler:
        yield handler
        assert handler.seen.wait(WAIT), 'not logged within %s s: %s' % (WAIT, words)


# Reconnect at once: the defaults wait a second or more per attempt.
FAST_RECONNECT = dict(kombu_reconnect_delay=0.05, rabbit_retry_interval=0.05,
                      rabbit_retry_backoff=0.05)
FAST_RECONNECT_QUERY = '&'.join('%s=%s' % item for item in FAST_RECONNECT.items())


def catch(function, *args, **kwargs):
    """What ``function`` returned, or the exception it raised."""
    try:
        return function(*args, **kwargs)
    except Exception as ex:
        return ex


def fails_at_once(function, *args, within=5.0, **kwargs):
    """The exception ``function(*args, **kwargs)`` raised, which it must
    have raised within ``within`` seconds (not after retries or a timeout)."""
    started = time.monotonic()
    error = catch(function, *args, **kwargs)
    took = time.monotonic() - started
    assert isinstance(error, Exception), 'no error, but %r' % (error,)
    assert took < within, 'failed after %.1f s, not at once: %s' % (took, error)
    return error


SERVICE = Path(__file__).resolve().parent / 'queue_manager_service.py'
WORKTREE = str(Path(__file__).resolve().parents[2])


def run_service(python: str, library: str, url: str, names: tuple,
                new_session: bool) -> None:
    """Run queue_manager_service.py to its end (one service start and stop).

    :param new_session: in a process group of its own, as a restarted
        service is; else in ours, as the workers of one service are.
    """
    # Our library from this worktree; oslo.messaging's interpreter has its own.
    env = dict(os.environ, PYTHONPATH=WORKTREE if library == 'messaging' else '')
    out = subprocess.run([python, str(SERVICE), library, url, names[1], names[0]],
                         capture_output=True, text=True, timeout=90, env=env,
                         start_new_session=new_session)
    assert out.returncode == 0, out.stderr[-2000:]


def queues_of(host: str, topic: str) -> set[str]:
    """The reply queues of ``host`` and the fanout queues of ``topic``."""
    from tests.functional.conftest import rabbitmqctl

    names = rabbitmqctl('list_queues', '--no-table-headers', 'name').split()
    return {name for name in names
            if name.startswith('reply_%s:' % host) or name.startswith(topic + '_fanout')}
