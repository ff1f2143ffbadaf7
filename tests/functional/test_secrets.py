"""The password of a transport URL never shows: not in any log line at any
level (ours, kombu's or py-amqp's), nor in a repr, an exception or a
connection name, whether connecting works, fails over, is refused, times
out or fails otherwise.
"""
from __future__ import annotations

import logging
import socket
import threading
import time
import uuid
from urllib import parse

import pytest

import messaging
from messaging.drivers.rabbit.errors import AuthenticationFailure
from tests.functional.conftest import rabbitmqctl
from tests.functional.rabbit_helpers import FAST_RECONNECT_QUERY, WAIT, Responder, catch

pytestmark = pytest.mark.timeout(90)

# Characters that must be percent-escaped in a URL, so that the escaped
# form has to be kept out of sight as well.
SECRET = 'Pw:%s@/%%+' % uuid.uuid4().hex[:12]
WRONG = 'Wr0ng:%s@/' % uuid.uuid4().hex[:12]
FORMS = [SECRET, parse.quote(SECRET, safe=''), WRONG, parse.quote(WRONG, safe=''),
         SECRET.split(':')[1].split('@')[0], WRONG.split(':')[1].split('@')[0]]


class EverythingLogged(logging.Handler):
    """Every record of every logger, formatted with its traceback."""

    LOGGERS = ('', 'kombu', 'amqp', 'messaging', 'py.warnings')

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter('%(name)s %(levelname)s %(message)s'))
        self.lines = []

    def __enter__(self):
        self._levels = {}
        for name in self.LOGGERS:
            logger = logging.getLogger(name)
            self._levels[name] = logger.level
            logger.setLevel(logging.DEBUG)
        logging.getLogger().addHandler(self)
        logging.captureWarnings(True)
        return self

    def __exit__(self, *exc_info):
        logging.captureWarnings(False)
        logging.getLogger().removeHandler(self)
        for name, level in self._levels.items():
            logging.getLogger(name).setLevel(level)

    def emit(self, record):
        self.lines.append(self.format(record))


def texts_of(exc):
    """str, repr and args of an exception and of every exception it chains."""
    seen = []
    while exc is not None and exc not in seen:
        seen.append(exc)
        yield str(exc)
        yield repr(exc)
        yield repr(exc.args)
        exc = exc.__cause__ or exc.__context__


def assert_hidden(*texts):
    for text in texts:
        for form in FORMS:
            assert form not in text, 'the password shows in: %s' % text


@pytest.fixture(scope='module')
def user(rabbit_url):
    """A broker user whose password is SECRET, deleted afterwards."""
    name = 'test_secrets_%s' % uuid.uuid4().hex[:8]
    rabbitmqctl('add_user', name, SECRET)
    try:
        rabbitmqctl('set_permissions', '-p', '/', name, '.*', '.*', '.*')
        yield name
    finally:
        rabbitmqctl('delete_user', name)


def url_for(user, password, *hosts, query=''):
    credentials = '%s:%s@' % (user, parse.quote(password, safe=''))
    return 'rabbit://%s/%s' % (','.join(credentials + host for host in hosts),
                               ('?' + query) if query else '')


def served_call(transport, rabbit_names):
    """Serve, call and notify through ``transport``; the things to inspect."""
    topic, exchange = rabbit_names
    driver = transport._driver
    target = messaging.Target(topic=topic, server='srv', exchange=exchange)
    server = Responder(driver.listen(target, 1, None))
    try:
        assert driver.send(target, {}, {'method': 'm', 'args': {'v': 1}},
                           wait_for_reply=True, timeout=WAIT) == {'v': 1}
        driver.send_notification(messaging.Target(topic=topic, exchange=exchange), {},
                                 {'event_type': 'e', 'priority': 'INFO', 'payload': {}}, 2.0)
        listening = server.listener.connection
        with driver._borrow() as sending:
            names = [listening.name, sending.name, repr(listening.link),
                     repr(sending.link), sending.host]
    finally:
        server.stop()
    # str() of a TransportURL shows the password, as oslo's: to_string() is
    # the form for logs.
    return names + [transport._driver._url.to_string(), repr(transport._driver._url),
                    repr(transport), repr(driver)]


def test_connecting_calling_and_notifying_never_show_the_password(
        user, rabbit_transport, rabbit_names, rabbit_url):
    host = rabbit_url.split('@', 1)[1].strip('/')
    with EverythingLogged() as log:
        texts = served_call(rabbit_transport(url_for(user, SECRET, host)), rabbit_names)
    assert len(log.lines) > 5, 'logging was not captured'
    assert any(line.startswith('amqp') for line in log.lines)
    assert_hidden(*texts, *log.lines)


def test_failing_over_from_a_closed_port_never_shows_the_password(
        user, rabbit_transport, rabbit_names, rabbit_url):
    host = rabbit_url.split('@', 1)[1].strip('/')
    url = url_for(user, SECRET, '127.0.0.1:1', host, query=FAST_RECONNECT_QUERY)
    with EverythingLogged() as log:
        texts = served_call(rabbit_transport(url), rabbit_names)
    assert_hidden(*texts, *log.lines)


def test_a_wrong_password_fails_fast_saying_so_and_never_shows_either_password(
        user, rabbit_transport, rabbit_names, rabbit_url):
    topic, exchange = rabbit_names
    host = rabbit_url.split('@', 1)[1].strip('/')
    driver = rabbit_transport(url_for(user, WRONG, host))._driver
    started = time.monotonic()
    with EverythingLogged() as log:
        refused = catch(driver.send, messaging.Target(topic=topic, exchange=exchange), {},
                        {'method': 'm', 'args': {}})
    assert isinstance(refused, AuthenticationFailure), refused
    assert time.monotonic() - started < 5
    assert 'ACCESS_REFUSED' in str(refused) and 'password' in str(refused)
    assert_hidden(*texts_of(refused), *log.lines)


@pytest.fixture
def silent_port():
    """A port that accepts TCP connections and never says a word."""
    server = socket.socket()
    server.bind(('127.0.0.1', 0))
    server.listen(8)
    held = []
    stop = threading.Event()

    def accept():
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except socket.timeout:
                pass

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join(WAIT)
    for sock in held + [server]:
        sock.close()


def test_timeouts_and_errors_never_show_the_password(
        user, rabbit_transport, rabbit_names, rabbit_url, silent_port):
    topic, exchange = rabbit_names
    host = rabbit_url.split('@', 1)[1].strip('/')
    target = messaging.Target(topic=topic, exchange=exchange)
    failures = []
    with EverythingLogged() as log:
        # The broker never answers the handshake: a connect timeout.
        silent = rabbit_transport(url_for(user, SECRET, '127.0.0.1:%d' % silent_port))
        failures.append(catch(silent._driver.send, target, {}, {'method': 'm', 'args': {}},
                              retry=0))
        # Nothing listens: retries used up.
        closed = rabbit_transport(url_for(user, SECRET, '127.0.0.1:1',
                                          query=FAST_RECONNECT_QUERY))
        failures.append(catch(closed._driver.send, target, {}, {'method': 'm', 'args': {}},
                              retry=1))
        # Connected, but nobody answers the call: a reply timeout.
        working = rabbit_transport(url_for(user, SECRET, host))
        failures.append(catch(working._driver.send, target, {}, {'method': 'm', 'args': {}},
                              wait_for_reply=True, timeout=0.5))
        # A failure raised through the public client.
        client = messaging.get_rpc_client(working, target, timeout=0.5)
        failures.append(catch(client.call, {}, 'm'))
    assert [type(f).__name__ for f in failures] == [
        'MessageDeliveryFailure', 'MessageDeliveryFailure', 'MessagingTimeout',
        'MessagingTimeout']
    assert_hidden(*[text for failure in failures for text in texts_of(failure)], *log.lines)


def test_the_check_sees_the_password_in_any_of_its_forms():
    for text in ('amqp://u:%s@h' % parse.quote(SECRET, safe=''), 'login %s' % SECRET):
        with pytest.raises(AssertionError):
            assert_hidden(text)


def test_a_server_with_a_wrong_password_fails_to_start_at_once_saying_so(
        user, rabbit_transport, rabbit_names, rabbit_url):
    topic, exchange = rabbit_names
    host = rabbit_url.split('@', 1)[1].strip('/')
    server = messaging.get_rpc_server(
        rabbit_transport(url_for(user, WRONG, host)),
        messaging.Target(topic=topic, server='srv', exchange=exchange), [object()],
        executor='threading')
    started = time.monotonic()
    with EverythingLogged() as log:
        refused = catch(server.start)
    assert isinstance(refused, messaging.ServerListenError), refused
    assert time.monotonic() - started < 5
    assert 'ACCESS_REFUSED' in str(refused) and 'password' in str(refused)
    assert_hidden(*texts_of(refused), *log.lines)
