"""The in-memory fake:// driver, driven through the driver contract (drivers/base.py).

What oslo.messaging's fake driver does that a service can see is proved side by
side in tests/sameanswer/test_sameanswer_fake.py; these tests pin the driver's
own contract (polling, batches, stop, heartbeats, fanout_call).
"""
import threading
import time

import pytest
from oslo_config import cfg

import messaging
from messaging import exceptions
from messaging.drivers import base, impl_fake

SHORT = 0.2     # a timeout we expect to expire
LONG = 5.0      # a bound we never expect to reach


class PolledFakeDriver(impl_fake.FakeDriver):
    """The fake driver, its listeners handed to the test to poll itself
    (the driver returns each wrapped in the adapter a server starts)."""

    def listen(self, *args):
        return super().listen(*args).poll_style_listener

    def listen_for_notification(self, *args):
        return super().listen_for_notification(*args).poll_style_listener


def _driver(cls):
    conf = cfg.ConfigOpts()
    conf([])
    url = messaging.TransportURL.parse(conf, 'fake://')
    return cls(conf, url, default_exchange='openstack',
               allowed_remote_exmods=['oslo_messaging.exceptions'])


@pytest.fixture
def driver():
    driver = _driver(PolledFakeDriver)
    yield driver
    driver.cleanup()


def test_listeners_are_poll_style_listeners_in_the_adapter_servers_start():
    driver = _driver(impl_fake.FakeDriver)
    try:
        rpc = driver.listen(target(topic='t', server='s'), 1, None)
        notifications = driver.listen_for_notification([(target(topic='n'), 'info')],
                                                       None, 1, None)
        for listener in (rpc, notifications):
            assert isinstance(listener, base.PollStyleListenerAdapter)
            assert isinstance(listener.poll_style_listener, base.PollStyleListener)
            assert listener._started is False
    finally:
        driver.cleanup()


def target(**kwargs):
    return messaging.Target(**kwargs)


def cast(driver, tgt, method='m', **args):
    driver.send(tgt, {'user': 'u1'}, {'method': method, 'args': args})


def poll_one(listener, timeout=LONG):
    batch = listener.poll(timeout=timeout)
    assert len(batch) == 1, batch
    return batch[0]


class Server(threading.Thread):
    """Polls one message and handles it with ``handler(incoming)``."""

    def __init__(self, listener, handler):
        super().__init__(daemon=True)
        self.listener, self.handler = listener, handler
        self.received = threading.Event()
        self.incoming = None
        self.error = None

    def run(self):
        try:
            self.incoming = poll_one(self.listener)
            self.received.set()
            self.handler(self.incoming)
        except BaseException as ex:  # reported by finish()
            self.error = ex

    def finish(self):
        self.join(LONG)
        assert not self.is_alive()
        if self.error:
            raise self.error


def call(driver, tgt, method='m', timeout=LONG, call_monitor_timeout=None, **args):
    return driver.send(tgt, {'user': 'u1'}, {'method': method, 'args': args},
                       wait_for_reply=True, timeout=timeout,
                       call_monitor_timeout=call_monitor_timeout)


# --- RPC: calls -------------------------------------------------------------

def test_call_returns_the_reply_and_server_sees_context_and_args(driver):
    listener = driver.listen(target(topic='t', server='s'), 1, None)
    server = Server(listener, lambda incoming: incoming.reply({'sum': 3}))
    server.start()
    assert call(driver, target(topic='t'), 'add', a=1, b=2) == {'sum': 3}
    server.finish()
    incoming = server.incoming
    assert incoming.message == {'method': 'add', 'args': {'a': 1, 'b': 2}}
    assert incoming.ctxt == {'user': 'u1'}
    assert incoming.msg_id and len(incoming.msg_id) == 36


def test_context_and_message_reach_the_server_as_the_objects_sent(driver):
    listener = driver.listen(target(topic='t', server='s'), 1, None)
    ctxt, message = {'user': 'u1'}, {'method': 'm', 'args': {'pair': (1, 2)}}
    driver.send(target(topic='t'), ctxt, message)
    incoming = poll_one(listener)
    assert incoming.ctxt is ctxt and incoming.message is message


def test_call_with_none_result_returns_none(driver):
    listener = driver.listen(target(topic='t', server='s'), 1, None)
    server = Server(listener, lambda incoming: incoming.reply(None))
    server.start()
    assert call(driver, target(topic='t')) is None
    server.finish()


def test_call_to_a_topic_with_no_server_times_out(driver):
    started = time.monotonic()
    with pytest.raises(exceptions.MessagingTimeout):
        call(driver, target(topic='nobody-listens'), timeout=SHORT)
    assert time.monotonic() - started < LONG


def test_a_call_that_timed_out_still_reaches_a_later_server(driver):
    listener = driver.listen(target(topic='t', server='s'), 1, None)
    with pytest.raises(exceptions.MessagingTimeout, match='No reply on topic t'):
        call(driver, target(topic='t'), timeout=SHORT)
    # As with oslo's fake driver, the request waits; its reply goes nowhere.
    poll_one(listener).reply('late')


def test_call_carries_the_call_monitor_timeout_to_the_server(driver):
    listener = driver.listen(target(topic='t', server='s'), 1, None)
    server = Server(listener, lambda incoming: incoming.reply('ok'))
    server.start()
    assert call(driver, target(topic='t'), call_monitor_timeout=4) == 'ok'
    server.finish()
    assert server.incoming.ctxt == {'user': 'u1'}
    assert server.incoming.client_timeout == 4


@pytest.mark.parametrize('as_exc_info', [False, True])
def test_the_failure_a_server_replies_is_raised_to_the_caller_as_is(driver, as_exc_info):
    class Custom(Exception):
        pass

    failure = Custom('nope', 42)
    server = Server(driver.listen(target(topic='t', server='s'), 1, None),
                    lambda incoming: incoming.reply(
                        failure=(Custom, failure, None) if as_exc_info else failure))
    server.start()
    with pytest.raises(Custom) as info:
        call(driver, target(topic='t'))
    server.finish()
    assert info.value is failure


def test_call_monitor_times_out_without_heartbeats(driver):
    listener = driver.listen(target(topic='t', server='s'), 1, None)
    release = threading.Event()
    server = Server(listener, lambda incoming: release.wait(LONG))
    server.start()
    started = time.monotonic()
    try:
        with pytest.raises(exceptions.MessagingTimeout):
            call(driver, target(topic='t'), timeout=LONG, call_monitor_timeout=SHORT)
        assert time.monotonic() - started < LONG / 2
    finally:
        release.set()
        server.finish()


def test_heartbeats_keep_a_monitored_call_alive_past_its_monitor_timeout(driver):
    listener = driver.listen(target(topic='t', server='s'), 1, None)
    monitor = 0.3

    def slow(incoming):
        end = time.monotonic() + monitor * 3
        while time.monotonic() < end:
            incoming.heartbeat()
            time.sleep(monitor / 10)   # the slow work being monitored
        incoming.reply('done')

    server = Server(listener, slow)
    server.start()
    started = time.monotonic()
    assert call(driver, target(topic='t'), timeout=LONG, call_monitor_timeout=monitor) == 'done'
    assert time.monotonic() - started >= monitor * 3
    server.finish()


def test_reply_after_the_caller_gave_up_is_dropped_quietly(driver):
    listener = driver.listen(target(topic='t', server='s'), 1, None)
    gave_up = threading.Event()
    server = Server(listener, lambda incoming: (gave_up.wait(LONG), incoming.reply('late')))
    server.start()
    with pytest.raises(exceptions.MessagingTimeout):
        call(driver, target(topic='t'), timeout=SHORT)
    assert server.received.wait(LONG)
    gave_up.set()
    server.finish()
    assert server.error is None


def test_a_request_a_real_wire_could_not_carry_is_refused(driver):
    listener = driver.listen(target(topic='t', server='s'), 1, None)
    with pytest.raises(ValueError, match='Cannot convert <object object'):
        cast(driver, target(topic='t'), when=object())
    with pytest.raises(ValueError, match='Cannot convert Ellipsis'):
        call(driver, target(topic='t'), timeout=SHORT, when=Ellipsis)
    assert listener.poll(timeout=SHORT) == []


def test_values_the_real_wire_converts_arrive_unconverted(driver):
    # The wire would carry them (as a string, a list): the fake checks that
    # much, and delivers the objects themselves, as oslo's fake driver does.
    import datetime
    listener = driver.listen(target(topic='t', server='s'), 1, None)
    when = datetime.datetime(2024, 1, 2, 3, 4, 5)
    cast(driver, target(topic='t'), when=when, tags={'a'})
    assert poll_one(listener).message['args'] == {'when': when, 'tags': {'a'}}


def test_the_context_is_not_checked(driver):
    listener = driver.listen(target(topic='t', server='s'), 1, None)
    odd = object()
    driver.send(target(topic='t'), {'when': odd}, {'method': 'm', 'args': {}})
    assert poll_one(listener).ctxt == {'when': odd}


# --- RPC: casts and routing -------------------------------------------------

def test_casts_wait_in_a_declared_topic_queue_until_a_server_polls(driver):
    first = driver.listen(target(topic='t', server='s1'), 1, None)
    first.stop()
    first.cleanup()
    for n in range(3):
        cast(driver, target(topic='t'), n=n)
    later = driver.listen(target(topic='t', server='s2'), 1, None)
    got = [poll_one(later).message['args']['n'] for _ in range(3)]
    assert got == [0, 1, 2]
    assert later.poll(timeout=SHORT) == []


def test_casts_sent_before_any_server_wait_for_one(driver):
    cast(driver, target(topic='t', fanout=True), 'fanout_lost')   # no server queue yet
    cast(driver, target(topic='t'), 'to_topic')
    cast(driver, target(topic='t', server='s'), 'to_server')
    listener = driver.listen(target(topic='t', server='s'), 1, None)
    got = [poll_one(listener).message['method'] for _ in range(2)]
    assert got == ['to_server', 'to_topic']
    assert listener.poll(timeout=SHORT) == []


def test_cast_reply_and_heartbeat_are_noops(driver):
    listener = driver.listen(target(topic='t', server='s'), 1, None)
    cast(driver, target(topic='t'))
    incoming = poll_one(listener)
    assert incoming.ctxt == {'user': 'u1'}
    assert incoming.client_timeout is None
    incoming.heartbeat()
    incoming.reply('ignored')
    incoming.acknowledge()


def test_topic_server_routing_reaches_only_that_server(driver):
    s1 = driver.listen(target(topic='t', server='s1'), 1, None)
    s2 = driver.listen(target(topic='t', server='s2'), 1, None)
    cast(driver, target(topic='t', server='s2'), 'for_s2')
    assert poll_one(s2).message['method'] == 'for_s2'
    assert s1.poll(timeout=SHORT) == []


def test_topic_cast_reaches_exactly_one_server(driver):
    s1 = driver.listen(target(topic='t', server='s1'), 1, None)
    s2 = driver.listen(target(topic='t', server='s2'), 1, None)
    cast(driver, target(topic='t'))
    got = s1.poll(timeout=SHORT) + s2.poll(timeout=SHORT)
    assert len(got) == 1


def test_fanout_reaches_every_listener(driver):
    listeners = [driver.listen(target(topic='t', server='s%d' % n), 1, None)
                 for n in range(3)]
    cast(driver, target(topic='t', fanout=True), 'everyone')
    for listener in listeners:
        assert poll_one(listener).message['method'] == 'everyone'
        assert listener.poll(timeout=0.05) == []


def test_fanout_wins_over_server(driver):
    s1 = driver.listen(target(topic='t', server='s1'), 1, None)
    s2 = driver.listen(target(topic='t', server='s2'), 1, None)
    cast(driver, target(topic='t', server='s1', fanout=True))
    assert len(poll_one(s1).message) and len(poll_one(s2).message)


def test_fanout_stays_in_its_exchange(driver):
    listener = driver.listen(target(topic='t', server='s', exchange='a'), 1, None)
    cast(driver, target(topic='t', fanout=True, exchange='b'), 'elsewhere')
    cast(driver, target(topic='t', fanout=True, exchange='a'), 'here')
    assert poll_one(listener).message['method'] == 'here'
    assert listener.poll(timeout=SHORT) == []


def test_a_stopped_servers_queue_still_collects_fanout(driver):
    first = driver.listen(target(topic='t', server='s'), 1, None)
    first.stop()
    first.cleanup()
    cast(driver, target(topic='t', fanout=True), 'kept')
    again = driver.listen(target(topic='t', server='s'), 1, None)
    assert poll_one(again).message['method'] == 'kept'


def test_exchanges_are_kept_apart(driver):
    in_a = driver.listen(target(topic='t', server='s', exchange='a'), 1, None)
    cast(driver, target(topic='t', exchange='b'), 'wrong_exchange')
    cast(driver, target(topic='t', server='s', exchange='b'), 'wrong_exchange')
    cast(driver, target(topic='t'), 'default_exchange')
    assert in_a.poll(timeout=SHORT) == []
    cast(driver, target(topic='t', exchange='a'), 'right')
    assert poll_one(in_a).message['method'] == 'right'


def test_target_without_exchange_uses_the_default_exchange(driver):
    explicit = driver.listen(target(topic='t', server='s', exchange='openstack'), 1, None)
    cast(driver, target(topic='t'), 'via_default')
    assert poll_one(explicit).message['method'] == 'via_default'


def test_requeued_message_is_delivered_again(driver):
    listener = driver.listen(target(topic='t', server='s'), 1, None)
    cast(driver, target(topic='t'), 'again', n=1)
    first = poll_one(listener)
    first.requeue()
    second = poll_one(listener)
    assert second.message == first.message
    assert second.ctxt == first.ctxt


def test_a_requeued_message_goes_to_the_back_of_its_queue(driver):
    listener = driver.listen(target(topic='t', server='s'), 1, None)
    cast(driver, target(topic='t'), 'first')
    cast(driver, target(topic='t'), 'second')
    poll_one(listener).requeue()
    assert [poll_one(listener).message['method'] for _ in range(2)] == ['second', 'first']


# --- notifications ----------------------------------------------------------

def notify(driver, topic, priority='info', exchange=None, **payload):
    driver.send_notification(target(topic='%s.%s' % (topic, priority), exchange=exchange),
                             {'user': 'u1'},
                             {'event_type': 'thing.happened', 'priority': priority.upper(),
                              'payload': payload, 'message_id': 'mid',
                              'publisher_id': 'pub', 'timestamp': 'now'}, 2.0)


def test_notifications_are_stored_per_topic_and_priority(driver):
    notify(driver, 'notifications', 'info', n=1)
    notify(driver, 'notifications', 'error', n=2)
    notify(driver, 'other', 'info', n=3)
    info = driver.listen_for_notification([(target(topic='notifications'), 'info')],
                                          None, 1, None)
    incoming = poll_one(info)
    assert incoming.message['payload'] == {'n': 1}
    assert incoming.message['event_type'] == 'thing.happened'
    assert incoming.ctxt == {'user': 'u1'}
    assert '_unique_id' not in incoming.message
    assert info.poll(timeout=SHORT) == []
    error = driver.listen_for_notification([(target(topic='notifications'), 'error')],
                                           None, 1, None)
    assert poll_one(error).message['payload'] == {'n': 2}


def test_one_listener_for_several_priorities(driver):
    listener = driver.listen_for_notification(
        [(target(topic='n'), 'info'), (target(topic='n'), 'error')], None, 1, None)
    notify(driver, 'n', 'info', n=1)
    notify(driver, 'n', 'error', n=2)
    notify(driver, 'n', 'debug', n=3)
    got = sorted(poll_one(listener).message['payload']['n'] for _ in range(2))
    assert got == [1, 2]
    assert listener.poll(timeout=SHORT) == []


def test_listeners_without_pool_share_the_topic_queue(driver):
    a = driver.listen_for_notification([(target(topic='n'), 'info')], None, 1, None)
    b = driver.listen_for_notification([(target(topic='n'), 'info')], None, 1, None)
    notify(driver, 'n')
    assert len(a.poll(timeout=SHORT) + b.poll(timeout=SHORT)) == 1


def test_each_pool_gets_its_own_copy_and_pool_members_share_it(driver):
    pool_a1 = driver.listen_for_notification([(target(topic='n'), 'info')], 'pool-a', 1, None)
    pool_a2 = driver.listen_for_notification([(target(topic='n'), 'info')], 'pool-a', 1, None)
    pool_b = driver.listen_for_notification([(target(topic='n'), 'info')], 'pool-b', 1, None)
    notify(driver, 'n', n=7)
    assert poll_one(pool_b).message['payload'] == {'n': 7}
    assert len(pool_a1.poll(timeout=SHORT) + pool_a2.poll(timeout=SHORT)) == 1
    # The shared topic queue still holds its copy too.
    plain = driver.listen_for_notification([(target(topic='n'), 'info')], None, 1, None)
    assert poll_one(plain).message['payload'] == {'n': 7}


def test_notification_exchange_is_respected(driver):
    listener = driver.listen_for_notification([(target(topic='n', exchange='nova'), 'info')],
                                              'p', 1, None)
    notify(driver, 'n', exchange='neutron')
    assert listener.poll(timeout=SHORT) == []
    notify(driver, 'n', exchange='nova')
    poll_one(listener)


def test_a_pool_made_later_starts_with_a_copy_of_what_waits(driver):
    notify(driver, 'n', n=1)
    late = driver.listen_for_notification([(target(topic='n'), 'info')], 'late', 1, None)
    plain = driver.listen_for_notification([(target(topic='n'), 'info')], None, 1, None)
    copied, original = poll_one(late), poll_one(plain)
    assert copied.message == original.message
    assert copied.message is not original.message


def test_non_json_notification_raises_value_error(driver):
    with pytest.raises(ValueError, match='Cannot convert'):
        notify(driver, 'n', when=object())


# --- Listener.poll batching and stop ----------------------------------------

def test_poll_returns_a_full_batch_at_once(driver):
    listener = driver.listen(target(topic='t', server='s'), 3, LONG)
    for n in range(5):
        cast(driver, target(topic='t'), n=n)
    started = time.monotonic()
    batch = listener.poll()
    assert [m.message['args']['n'] for m in batch] == [0, 1, 2]
    assert time.monotonic() - started < LONG / 2


def test_poll_returns_a_partial_batch_after_batch_timeout(driver):
    listener = driver.listen(target(topic='t', server='s'), 10, SHORT)
    cast(driver, target(topic='t'), n=1)
    cast(driver, target(topic='t'), n=2)
    started = time.monotonic()
    batch = listener.poll()
    elapsed = time.monotonic() - started
    assert [m.message['args']['n'] for m in batch] == [1, 2]
    assert SHORT * 0.9 <= elapsed < LONG / 2


def test_poll_with_nothing_returns_empty_after_batch_timeout(driver):
    listener = driver.listen(target(topic='t', server='s'), 4, SHORT)
    started = time.monotonic()
    assert listener.poll() == []
    assert time.monotonic() - started < LONG / 2


def test_batch_timeout_wins_over_poll_timeout(driver):
    listener = driver.listen(target(topic='t', server='s'), 2, SHORT)
    started = time.monotonic()
    assert listener.poll(timeout=LONG) == []
    assert time.monotonic() - started < LONG / 2


def test_batch_size_below_one_means_one(driver):
    listener = driver.listen(target(topic='t', server='s'), 0, None)
    cast(driver, target(topic='t'))
    cast(driver, target(topic='t'))
    assert len(listener.poll(timeout=LONG)) == 1


def test_prefetch_size_caps_the_batch():
    class Listener(impl_fake.base.Listener):
        def _poll_one(self, timeout):
            return object()

        def stop(self):
            pass

        def cleanup(self):
            pass

    assert len(Listener(batch_size=10, prefetch_size=3).poll()) == 3


def test_stop_wakes_a_blocked_poll_promptly(driver):
    listener = driver.listen(target(topic='t', server='s'), 5, None)
    result = {}
    polling = threading.Event()

    def run():
        polling.set()
        result['batch'] = listener.poll()
        result['at'] = time.monotonic()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    polling.wait(LONG)
    stopped_at = time.monotonic()
    listener.stop()
    thread.join(LONG)
    assert not thread.is_alive()
    assert result['batch'] == []
    assert result['at'] - stopped_at < 1.0


def test_poll_after_stop_returns_at_once(driver):
    listener = driver.listen(target(topic='t', server='s'), 1, None)
    listener.stop()
    cast(driver, target(topic='t'))
    started = time.monotonic()
    assert listener.poll() == []
    assert time.monotonic() - started < 1.0


def test_stopping_one_listener_leaves_others_polling(driver):
    a = driver.listen(target(topic='t', server='a'), 1, None)
    b = driver.listen(target(topic='t', server='b'), 1, None)
    a.stop()
    cast(driver, target(topic='t', server='b'))
    poll_one(b)


def test_the_drivers_of_a_process_share_one_broker_that_any_cleanup_empties(driver):
    url = messaging.TransportURL.parse(driver.conf, 'fake://')
    other = PolledFakeDriver(driver.conf, url, 'openstack')
    listener = other.listen(target(topic='t', server='s'), 1, None)
    cast(driver, target(topic='t'), 'across')
    assert poll_one(listener).message['method'] == 'across'
    cast(driver, target(topic='t'), 'forgotten')
    other.cleanup()
    assert listener.poll(timeout=SHORT) == []
    cast(driver, target(topic='t'), 'after')
    assert poll_one(listener).message['method'] == 'after'


def test_notification_listener_without_targets_polls_empty(driver):
    listener = driver.listen_for_notification([], None, 1, None)
    assert listener.poll(timeout=0.05) == []
    listener.stop()
    assert listener.poll() == []


def test_fanout_call_gathers_one_answer_per_server_including_failures(driver):
    listeners = [driver.listen(target(topic='survey', server=name), 1, None)
                 for name in ('a', 'b')]

    def answer(incoming):
        incoming.reply('pong')

    def fail(incoming):
        try:
            raise ValueError('not today')
        except ValueError as ex:
            incoming.reply(failure=ex)

    servers = [Server(listeners[0], answer), Server(listeners[1], fail)]
    for server in servers:
        server.start()
    answers = driver.fanout_call(target(topic='survey'), {}, {'method': 'ping', 'args': {}},
                                 timeout=1.0)
    for server in servers:
        server.finish()
    values = [value for _arrived, value in answers]
    assert len(values) == 2 and 'pong' in values
    failure = next(v for v in values if v != 'pong')
    assert isinstance(failure, ValueError) and 'not today' in str(failure)
    assert all(isinstance(arrived, float) for arrived, _value in answers)
