"""Nothing hangs: a call ends within its timeout and a cast within its
retries, whatever fails on the way, with an error that says what to check;
a running server keeps trying, saying why, until the broker is fixed.

Every test waits for the operation on a thread with a deadline, so a hang
fails the test instead of stalling the run.
"""
from __future__ import annotations

import logging
import threading
import time
import uuid

import pytest

import messaging
from messaging.drivers.rabbit.errors import (AuthenticationFailure, PermissionDenied,
                                             VirtualHostNotFound)
from tests.functional.conftest import rabbitmqctl
from tests.functional.rabbit_helpers import FAST_RECONNECT_QUERY, WAIT, catch

pytestmark = pytest.mark.timeout(90)

CALL_TIMEOUT = 3
# What a call may take beyond its timeout: thread start, the last connect.
MARGIN = 1.5


def ends_within(seconds, function, *args, **kwargs):
    """What ``function`` returned or raised, failing if it runs longer."""
    outcome = []
    thread = threading.Thread(target=lambda: outcome.append(catch(function, *args, **kwargs)),
                              daemon=True)
    thread.start()
    thread.join(seconds)
    assert outcome, '%s was still running after %s s' % (function.__name__, seconds)
    return outcome[0]


def call(transport, topic, timeout=CALL_TIMEOUT):
    client = messaging.get_rpc_client(transport, messaging.Target(topic=topic))
    return client.prepare(timeout=timeout).call({}, 'ping')


@pytest.fixture
def topic(unique_name):
    return unique_name('bounded')


@pytest.fixture
def host_port(rabbit_url):
    return rabbit_url.split('@', 1)[1].strip('/')


@pytest.fixture
def vhost():
    """A throwaway vhost that guest may use, deleted afterwards."""
    name = 'test_bounded_%s' % uuid.uuid4().hex[:8]
    rabbitmqctl('add_vhost', name)
    rabbitmqctl('set_permissions', '-p', name, 'guest', '.*', '.*', '.*')
    try:
        yield name
    finally:
        try:
            rabbitmqctl('delete_vhost', name)
        except Exception:  # already deleted by the test
            pass


@pytest.fixture
def user_without_permissions():
    """A throwaway user with no permission on any vhost, deleted afterwards."""
    name = 'test_bounded_%s' % uuid.uuid4().hex[:8]
    rabbitmqctl('add_user', name, 'pw-' + name)
    try:
        yield name
    finally:
        rabbitmqctl('delete_user', name)


@pytest.mark.parametrize('case, host', [
    ('refused port', '127.0.0.1:1'),
    ('unknown host', 'nohang-%s.invalid:5672' % uuid.uuid4().hex[:8]),
])
def test_a_call_to_an_unreachable_broker_times_out_within_its_timeout_naming_it(
        rabbit_transport, topic, case, host):
    transport = rabbit_transport('rabbit://guest:guest@%s/' % host)
    started = time.monotonic()
    failure = ends_within(CALL_TIMEOUT + MARGIN, call, transport, topic)
    assert isinstance(failure, messaging.MessagingTimeout), (case, failure)
    # It used its timeout to retry, rather than giving up at the first error.
    assert time.monotonic() - started >= CALL_TIMEOUT - 1, case
    text = str(failure)
    assert host in text and 'vhost /' in text, text
    assert 'password' not in text and 'guest:guest' not in text


def test_a_call_to_a_missing_vhost_fails_at_once_saying_so(rabbit_transport, host_port,
                                                           topic):
    vhost = 'test_bounded_missing_%s' % uuid.uuid4().hex[:8]
    transport = rabbit_transport('rabbit://guest:guest@%s/%s' % (host_port, vhost))
    failure = ends_within(CALL_TIMEOUT + MARGIN, call, transport, topic)
    assert isinstance(failure, VirtualHostNotFound), failure
    assert isinstance(failure, messaging.MessageDeliveryFailure)
    assert 'no virtual host %s' % vhost in str(failure)
    assert 'rabbitmqctl list_vhosts' in str(failure)


def test_a_call_with_wrong_credentials_fails_at_once_saying_so(rabbit_transport, host_port,
                                                               topic):
    transport = rabbit_transport('rabbit://guest:n0t-the-password@%s/' % host_port)
    failure = ends_within(CALL_TIMEOUT + MARGIN, call, transport, topic)
    assert isinstance(failure, AuthenticationFailure), failure
    assert 'user name or password' in str(failure)
    assert 'n0t-the-password' not in str(failure)


def test_a_call_as_a_user_without_permission_on_the_vhost_fails_at_once_saying_so(
        rabbit_transport, host_port, topic, user_without_permissions):
    user = user_without_permissions
    transport = rabbit_transport('rabbit://%s:pw-%s@%s/' % (user, user, host_port))
    failure = ends_within(CALL_TIMEOUT + MARGIN, call, transport, topic)
    assert isinstance(failure, PermissionDenied), failure
    assert 'set_permissions' in str(failure) and user in str(failure)


@pytest.mark.parametrize('retry, attempts', [(0, 1), (1, 2)])
def test_a_cast_gives_up_after_its_retries_naming_the_last_error(
        rabbit_transport, topic, caplog, retry, attempts):
    transport = rabbit_transport('rabbit://guest:guest@127.0.0.1:1/')
    client = messaging.get_rpc_client(transport, messaging.Target(topic=topic))
    with caplog.at_level(logging.WARNING):
        failure = ends_within(WAIT, client.prepare(retry=retry).cast, {}, 'ping')
    assert isinstance(failure, messaging.MessageDeliveryFailure), failure
    assert 'after %d attempt(s)' % attempts in str(failure)
    assert 'ConnectionRefusedError' in str(failure) and '127.0.0.1:1' in str(failure)
    # retry is as oslo.messaging counts it: retries after the first try.
    # A retry's record names the host the next attempt goes to.
    assert len([r for r in caplog.records if hasattr(r, 'next_broker')]) == retry


def test_a_notification_gives_up_after_its_retries(topic):
    from oslo_config import cfg

    conf = cfg.ConfigOpts()
    conf([])
    transport = messaging.get_notification_transport(
        conf, 'rabbit://guest:guest@127.0.0.1:1/?' + FAST_RECONNECT_QUERY)
    try:
        notifier = messaging.Notifier(transport, 'test', driver='messagingv2',
                                      topics=[topic], retry=1)
        delivered = ends_within(WAIT, notifier._notify, {}, 'test.event', {}, 'INFO')
    finally:
        transport.cleanup()
    assert delivered is False


def _refusal_delays(caplog, vhost):
    """The backoff delays of the refusals logged for ``vhost``, in order."""
    return [float(r.getMessage().split('tries again in ')[1].split(' s')[0])
            for r in caplog.records
            if r.levelno == logging.ERROR and 'no virtual host %s' % vhost in r.getMessage()
            and 'tries again in' in r.getMessage()]


def test_a_running_server_keeps_trying_while_its_vhost_is_gone_and_serves_once_back(
        vhost, rabbit_transport, host_port, topic, caplog):
    url = 'rabbit://guest:guest@%s/%s?%s' % (host_port, vhost, FAST_RECONNECT_QUERY)

    class Endpoint:
        def echo(self, ctxt, value):
            return value

    server = messaging.get_rpc_server(rabbit_transport(url),
                                      messaging.Target(topic=topic, server='s1'),
                                      [Endpoint()], executor='threading')
    server.start()
    try:
        client = messaging.get_rpc_client(rabbit_transport(url),
                                          messaging.Target(topic=topic))
        assert client.prepare(timeout=WAIT).call({}, 'echo', value=1) == 1
        with caplog.at_level(logging.ERROR):
            rabbitmqctl('delete_vhost', vhost)
            # The server's connections keep trying, each time later.
            deadline = time.monotonic() + WAIT
            while (len(set(_refusal_delays(caplog, vhost))) < 3
                   and time.monotonic() < deadline):
                time.sleep(0.05)
            delays = _refusal_delays(caplog, vhost)
            assert len(set(delays)) >= 3, caplog.text
            assert max(delays) > delays[0], delays
            rabbitmqctl('add_vhost', vhost)
            rabbitmqctl('set_permissions', '-p', vhost, 'guest', '.*', '.*', '.*')
        # A request sent before the server declared its queue again is
        # dropped by the broker (no route): ask until the server answers.
        fresh = messaging.get_rpc_client(rabbit_transport(url),
                                         messaging.Target(topic=topic)).prepare(timeout=1)
        deadline = time.monotonic() + WAIT * 2
        answer = None
        while answer != 2 and time.monotonic() < deadline:
            answer = ends_within(WAIT, fresh.call, {}, 'echo', value=2)
        assert answer == 2
    finally:
        server.stop()
        server.wait()


def test_a_server_whose_broker_is_gone_still_stops_when_asked(vhost, rabbit_transport,
                                                              host_port, topic, caplog):
    url = 'rabbit://guest:guest@%s/%s?%s' % (host_port, vhost, FAST_RECONNECT_QUERY)
    server = messaging.get_rpc_server(rabbit_transport(url),
                                      messaging.Target(topic=topic, server='s1'),
                                      [object()], executor='threading')
    server.start()
    with caplog.at_level(logging.ERROR):
        rabbitmqctl('delete_vhost', vhost)
        deadline = time.monotonic() + WAIT
        while not _refusal_delays(caplog, vhost) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _refusal_delays(caplog, vhost), caplog.text

    def stop_and_wait():
        server.stop()
        server.wait()

    assert ends_within(WAIT, stop_and_wait) is None
