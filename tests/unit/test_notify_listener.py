"""Notification listeners on fake://: dispatch, requeue, pools, malformed input."""
from __future__ import annotations

import logging
import threading

import pytest
from oslo_config import cfg

import messaging
from messaging.notify import dispatcher as notify_dispatcher
from messaging.notify import listener as notify_listener

WAIT = 5  # seconds: the bound on every wait below; a healthy run needs far less.


@pytest.fixture
def transport():
    transport = messaging.get_notification_transport(cfg.ConfigOpts(), 'fake://')
    yield transport
    transport.cleanup()


@pytest.fixture
def start(transport):
    """Start a listener (single or batch) and stop it after the test."""
    started = []

    def _start(endpoints, topic='topic', batch=False, **kwargs):
        factory = (messaging.get_batch_notification_listener if batch
                   else messaging.get_notification_listener)
        listener = factory(transport, [messaging.Target(topic=topic)], endpoints, **kwargs)
        listener.start()
        started.append(listener)
        return listener

    yield _start
    for listener in started:
        listener.stop()
    for listener in started:
        listener.wait()


class Recorder:
    """An endpoint that records what it receives, awaitable by count."""

    def __init__(self, results=None, filter_rule=None, cond=None):
        self.calls = []
        self._results = list(results or [])
        self._cond = cond or threading.Condition()
        if filter_rule is not None:
            self.filter_rule = filter_rule

    def _record(self, priority, args):
        with self._cond:
            self.calls.append((priority,) + args)
            self._cond.notify_all()
            result = self._results.pop(0) if self._results else None
        if isinstance(result, Exception):
            raise result
        return result

    def wait_for(self, count):
        with self._cond:
            assert self._cond.wait_for(lambda: len(self.calls) >= count, WAIT), self.calls
        return self.calls


def _endpoint_class(*priorities):
    methods = {p: (lambda prio: lambda self, *args: self._record(prio, args))(p)
               for p in priorities}
    return type('Endpoint', (Recorder,), methods)


InfoError = _endpoint_class('info', 'error')
AllPriorities = _endpoint_class(*notify_dispatcher.PRIORITIES)


def _notifier(transport, topic='topic', driver='messagingv2'):
    return messaging.Notifier(transport, 'pub.host', driver=driver, topics=[topic])


@pytest.mark.parametrize('method, expected', [
    ('audit', 'audit'), ('debug', 'debug'), ('info', 'info'), ('warn', 'warn'),
    ('warning', 'warn'), ('error', 'error'), ('critical', 'critical'),
    ('sample', 'sample')])
def test_each_priority_reaches_the_method_named_after_it(transport, start, method, expected):
    endpoint = AllPriorities()
    start([endpoint])
    getattr(_notifier(transport), method)({}, 'ev', {'m': method})
    [call] = endpoint.wait_for(1)
    assert (call[0], call[4]) == (expected, {'m': method})


def test_endpoint_receives_context_publisher_event_payload_and_metadata(transport, start):
    endpoint = InfoError()
    start([endpoint])
    notifier = _notifier(transport, driver='messaging')
    notifier.info(None, 'compute.start', {'id': 7})
    [(priority, ctxt, publisher_id, event_type, payload, metadata)] = endpoint.wait_for(1)
    assert (priority, publisher_id, event_type, payload) == (
        'info', 'pub.host', 'compute.start', {'id': 7})
    assert ctxt == {}
    assert set(metadata) == {'message_id', 'timestamp'}


def test_listener_subscribes_only_to_priorities_its_endpoints_implement(transport):
    listener = messaging.get_notification_listener(
        transport, [messaging.Target(topic='t1'), messaging.Target(topic='t2')], [InfoError()])
    assert sorted((t.topic, p) for t, p in listener._targets_priorities) == [
        ('t1', 'error'), ('t1', 'info'), ('t2', 'error'), ('t2', 'info')]


def test_endpoints_are_called_in_order_and_filter_rules_select(transport, start):
    wanted = InfoError(filter_rule=messaging.NotificationFilter(event_type=r'compute\.'))
    everything = InfoError()
    start([wanted, everything])
    notifier = _notifier(transport)
    notifier.info({}, 'network.create', {})
    notifier.info({}, 'compute.create', {})
    everything.wait_for(2)
    assert [c[3] for c in wanted.calls] == ['compute.create']


def test_requeue_is_redelivered_when_allowed(transport, start):
    endpoint = InfoError(results=[messaging.NotificationResult.REQUEUE])
    start([endpoint], allow_requeue=True)
    _notifier(transport).info({}, 'ev', {'n': 1})
    first, second = endpoint.wait_for(2)
    assert first[5]['message_id'] == second[5]['message_id']


def test_endpoint_exception_requeues_when_allowed_and_listener_keeps_running(
        transport, start, caplog):
    endpoint = InfoError(results=[RuntimeError('boom')])
    start([endpoint], allow_requeue=True)
    notifier = _notifier(transport)
    with caplog.at_level(logging.ERROR, logger='messaging.notify.dispatcher'):
        notifier.info({}, 'ev', {'n': 1})
        endpoint.wait_for(2)
    notifier.info({}, 'ev', {'n': 2})
    assert [c[4] for c in endpoint.wait_for(3)] == [{'n': 1}, {'n': 1}, {'n': 2}]
    assert 'boom' in caplog.text


@pytest.mark.parametrize('result', [messaging.NotificationResult.REQUEUE,
                                    RuntimeError('boom')])
def test_requeue_and_errors_are_acknowledged_when_requeue_is_not_allowed(
        transport, start, result):
    endpoint = InfoError(results=[result])
    start([endpoint])
    notifier = _notifier(transport)
    notifier.info({}, 'ev', {'n': 1})
    notifier.info({}, 'ev', {'n': 2})
    # Handled on concurrent workers: either may get the first result.
    assert sorted(c[4]['n'] for c in endpoint.wait_for(2)) == [1, 2]


def test_allow_requeue_checks_the_driver_supports_it(transport):
    transport._driver.require_features = _refuse_requeue
    with pytest.raises(NotImplementedError):
        messaging.get_notification_listener(transport, [messaging.Target(topic='t')],
                                            [InfoError()], allow_requeue=True)


def _refuse_requeue(requeue=False):
    if requeue:
        raise NotImplementedError('no requeue')


def test_each_pool_gets_every_notification(transport, start):
    pool_a, pool_b = InfoError(), InfoError()
    start([pool_a], pool='pool-a')
    start([pool_b], pool='pool-b')
    notifier = _notifier(transport)
    for n in range(4):
        notifier.info({}, 'ev', {'n': n})
    for endpoint in (pool_a, pool_b):
        assert sorted(c[4]['n'] for c in endpoint.wait_for(4)) == [0, 1, 2, 3]


def test_listeners_in_one_pool_share_its_notifications(transport, start):
    shared = threading.Condition()
    first, second = InfoError(cond=shared), InfoError(cond=shared)
    start([first], pool='shared')
    start([second], pool='shared')
    notifier = _notifier(transport)
    for n in range(10):
        notifier.info({}, 'ev', {'n': n})
    seen = _wait_total([first, second], 10)
    assert sorted(seen) == list(range(10))


def _wait_total(endpoints, count):
    """Payload numbers seen by all ``endpoints`` once they add up to ``count``."""
    cond = endpoints[0]._cond
    with cond:
        assert cond.wait_for(lambda: sum(len(e.calls) for e in endpoints) >= count, WAIT)
        return [c[4]['n'] for e in endpoints for c in e.calls]


def test_listeners_without_pool_share_the_topic_queues(transport, start):
    shared = threading.Condition()
    first, second = InfoError(cond=shared), InfoError(cond=shared)
    start([first])
    start([second])
    notifier = _notifier(transport)
    for n in range(6):
        notifier.info({}, 'ev', {'n': n})
    assert sorted(_wait_total([first, second], 6)) == list(range(6))


class LogWaiter(logging.Handler):
    """Lets a test await a log record containing ``text`` (logged on a worker)."""

    def __init__(self, text, message_id=None):
        super().__init__(logging.DEBUG)
        self.text = text
        self.message_id = message_id
        self.seen = threading.Event()

    def emit(self, record):
        # The unknown-priority line has oslo's text; the id is an attribute.
        if (self.text in record.getMessage()
                or getattr(record, 'message_id', None) == self.message_id is not None):
            self.seen.set()


@pytest.fixture
def dispatcher_log():
    logger = logging.getLogger('messaging.notify.dispatcher')
    waiter = LogWaiter('notification bad', message_id='bad')
    logger.addHandler(waiter)
    yield waiter
    logger.removeHandler(waiter)


@pytest.mark.parametrize('message', [
    {'priority': 'INFO', 'payload': {}},                       # no event_type
    {'event_type': 'ev', 'payload': {}},                       # no priority
    {'event_type': 'ev', 'priority': 5, 'payload': {}},        # priority not a string
    {'event_type': 'ev', 'priority': 'BOGUS', 'payload': {}},  # unknown priority
])
def test_malformed_notification_is_logged_acknowledged_and_listener_lives(
        transport, start, dispatcher_log, message):
    endpoint = AllPriorities()
    start([endpoint], allow_requeue=True)
    target = messaging.Target(topic='topic.info')
    transport._send_notification(target, {}, dict(message, message_id='bad'), 2.0)
    _notifier(transport).info({}, 'ev', {'ok': True})
    assert dispatcher_log.seen.wait(WAIT)
    [call] = endpoint.wait_for(1)
    assert call[4] == {'ok': True}


def test_payload_and_context_are_deserialized(transport, start):
    class Upper(messaging.NoOpSerializer):
        def deserialize_entity(self, ctxt, entity):
            return {k: v.upper() for k, v in entity.items()}

        def deserialize_context(self, ctxt):
            return dict(ctxt, deserialized=True)

    endpoint = InfoError()
    start([endpoint], serializer=Upper())
    _notifier(transport).info({}, 'ev', {'a': 'x'})
    [call] = endpoint.wait_for(1)
    assert call[4] == {'a': 'X'} and call[1]['deserialized'] is True


def test_listener_is_a_notification_server(transport):
    listener = messaging.get_notification_listener(transport, [messaging.Target(topic='t')],
                                                   [InfoError()])
    batch = messaging.get_batch_notification_listener(
        transport, [messaging.Target(topic='t')], [InfoError()], batch_size=2)
    assert isinstance(listener, notify_listener.NotificationServer)
    assert isinstance(batch, notify_listener.BatchNotificationServer)
    assert isinstance(listener, messaging.MessageHandlingServer)


def test_batch_is_delivered_when_batch_size_is_reached(transport, start):
    endpoint = InfoError()
    # A long timeout: only the size can trigger delivery within the test's wait.
    start([endpoint], batch=True, batch_size=3, batch_timeout=60)
    notifier = _notifier(transport)
    for n in range(3):
        notifier.info({}, 'ev', {'n': n})
    [(priority, messages)] = endpoint.wait_for(1)
    assert priority == 'info'
    assert [m['payload']['n'] for m in messages] == [0, 1, 2]
    assert set(messages[0]) == {'ctxt', 'publisher_id', 'event_type', 'payload', 'metadata'}


def test_batch_is_delivered_when_batch_timeout_expires(transport, start):
    endpoint = InfoError()
    start([endpoint], batch=True, batch_size=100, batch_timeout=0.2)
    notifier = _notifier(transport)
    notifier.info({}, 'ev', {'n': 0})
    notifier.info({}, 'ev', {'n': 1})
    calls = endpoint.wait_for(1)
    assert [m['payload']['n'] for m in calls[0][1]] == [0, 1]


def test_batch_groups_by_priority(transport, start):
    endpoint = InfoError()
    start([endpoint], batch=True, batch_size=4, batch_timeout=60)
    notifier = _notifier(transport)
    notifier.info({}, 'ev', {'n': 0})
    notifier.error({}, 'ev', {'n': 1})
    notifier.info({}, 'ev', {'n': 2})
    notifier.error({}, 'ev', {'n': 3})
    groups = {p: sorted(m['payload']['n'] for m in msgs) for p, msgs in endpoint.wait_for(2)}
    assert groups == {'info': [0, 2], 'error': [1, 3]}


def test_batch_requeue_redelivers_only_that_priority_group(transport, start):
    endpoint = InfoError(results=[messaging.NotificationResult.REQUEUE])
    start([endpoint], batch=True, batch_size=2, batch_timeout=0.2, allow_requeue=True)
    notifier = _notifier(transport)
    notifier.info({}, 'ev', {'n': 0})
    notifier.info({}, 'ev', {'n': 1})
    first, second = endpoint.wait_for(2)
    assert sorted(m['payload']['n'] for m in first[1]) == [0, 1]
    assert sorted(m['payload']['n'] for m in second[1]) == [0, 1]


def test_batch_with_malformed_member_acknowledges_it_and_delivers_the_rest(
        transport, start, dispatcher_log):
    endpoint = InfoError()
    start([endpoint], batch=True, batch_size=2, batch_timeout=60, allow_requeue=True)
    transport._send_notification(messaging.Target(topic='topic.info'), {},
                                 {'priority': 'INFO', 'message_id': 'bad'}, 2.0)
    _notifier(transport).info({}, 'ev', {'n': 1})
    [(_priority, messages)] = endpoint.wait_for(1)
    assert [m['payload'] for m in messages] == [{'n': 1}]
    assert dispatcher_log.seen.wait(WAIT)
    _notifier(transport).info({}, 'ev', {'n': 2})
    _notifier(transport).info({}, 'ev', {'n': 3})
    assert len(endpoint.wait_for(2)) == 2
