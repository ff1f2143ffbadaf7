"""ReplyWaiter.wait: results, failures, heartbeats and both time-outs."""
from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import pytest

from messaging import exceptions
from messaging import wire
from messaging.drivers.rabbit.declarations import QueueSpec
from messaging.drivers.rabbit.reply_waiter import ReplyWaiter


@pytest.fixture
def waiter():
    waiter = ReplyWaiter(lambda: None, QueueSpec('reply_x', False, False), [])
    waiter.register('m1')
    yield waiter
    waiter.unregister('m1')


def reply(result=None, failure=None, ending=True, msg_id='m1'):
    return {'result': result, 'failure': failure, 'ending': ending, '_msg_id': msg_id}


def test_final_reply_returns_its_result(waiter):
    waiter.deliver(reply('ok'))
    assert waiter.wait('m1', 1, None, 'm') == 'ok'


def test_failure_is_raised_as_the_rebuilt_exception(waiter):
    waiter.deliver(reply(failure=wire.serialize_remote_exception(KeyError('k'))))
    with pytest.raises(KeyError):
        waiter.wait('m1', 1, None, 'm')


def test_legacy_two_part_reply_returns_the_first_part(waiter):
    waiter.deliver(reply('value', ending=False))
    waiter.deliver(reply(None, ending=True))
    assert waiter.wait('m1', 1, None, 'm') == 'value'


def test_replies_for_unknown_ids_are_dropped(waiter):
    waiter.deliver(reply('stray', msg_id='other'))
    waiter.deliver(reply('mine'))
    assert waiter.wait('m1', 1, None, 'm') == 'mine'


def test_overall_timeout_names_the_call_and_msg_id(waiter):
    with pytest.raises(exceptions.MessagingTimeout, match=r"method 'echo'.*msg_id m1"):
        waiter.wait('m1', 0.1, None, "method 'echo' on topic t")


def test_the_timeout_is_said_in_tenths_of_a_second(waiter):
    # A caller passing what is left of its time gives an unrounded figure.
    with pytest.raises(exceptions.MessagingTimeout, match=r': after 0\.1 s$'):
        waiter.wait('m1', 0.1234567, None, 'm')


def _heartbeats(waiter, every, count, then=None):
    def beat():
        for _ in range(count):
            time.sleep(every)  # the cadence of a server's heartbeats
            waiter.deliver(reply(ending=False))
        if then is not None:
            waiter.deliver(then)
    thread = threading.Thread(target=beat, daemon=True)
    thread.start()
    return thread


def test_heartbeats_keep_a_monitored_call_alive(waiter):
    _heartbeats(waiter, 0.1, 5, then=reply('late'))
    assert waiter.wait('m1', 5, 0.3, 'm') == 'late'


def test_monitored_call_fails_when_heartbeats_stop(waiter):
    _heartbeats(waiter, 0.05, 2)
    started = time.monotonic()
    with pytest.raises(exceptions.MessagingTimeout, match='call_monitor_timeout'):
        waiter.wait('m1', 5, 0.3, 'm')
    assert time.monotonic() - started < 1


def test_heartbeats_do_not_extend_the_overall_timeout(waiter):
    _heartbeats(waiter, 0.05, 20)
    started = time.monotonic()
    with pytest.raises(exceptions.MessagingTimeout):
        waiter.wait('m1', 0.3, 0.2, 'm')
    assert time.monotonic() - started < 0.6


def test_time_spent_publishing_counts_against_the_call_timeout(waiter):
    # A call whose publish took (here: is said to have started) 60 s ago
    # has no time left: it fails at once instead of waiting 60 s more.
    began = time.monotonic()
    with pytest.raises(exceptions.MessagingTimeout):
        waiter.wait('m1', 60, None, 'm', started=time.monotonic() - 60)
    assert time.monotonic() - began < 30


def test_fanout_collection_ends_at_the_deadline_counted_from_the_start(waiter):
    waiter.deliver(reply('early'))
    began = time.monotonic()
    answers = waiter.collect('m1', 60, started=time.monotonic() - 60)
    assert [result for _, result in answers] == ['early']
    assert time.monotonic() - began < 30


class _CheckedConnection:
    """Stands in for the reply waiter's connection; counts queue checks.

    Its one read stops the waiter, so that ``_run`` returns after one pass.
    """

    host = 'rabbit1:5672'

    def __init__(self, waiter, error=None, state=(0, 1)):
        self.checked: list[str] = []
        self._waiter = waiter
        self._error = error
        #: (ready messages, consumers) the broker answers.
        self.state = state
        self.link = SimpleNamespace(broken=False)
        self.link.mark_broken = lambda: setattr(self.link, 'broken', True)

    def check_queue(self, name):
        self.checked.append(name)
        if self._error is not None:
            raise self._error
        return self.state

    def read(self, timeout, done):
        self._waiter._stopping.set()


def test_a_timed_out_call_has_the_waiter_thread_check_once_that_the_reply_queue_exists(
        waiter):
    connection = waiter._connection = _CheckedConnection(waiter)
    for _ in range(2):
        with pytest.raises(exceptions.MessagingTimeout):
            waiter.wait('m1', 0.01, None, 'method m')
    # The caller does not wait for the check; the waiter thread makes it.
    assert connection.checked == []
    waiter._run(connection)
    # A burst of timeouts costs one check.
    assert connection.checked == ['reply_x']


def test_a_failed_queue_check_is_logged_and_the_timeout_still_raised(waiter, caplog):
    connection = waiter._connection = _CheckedConnection(
        waiter, exceptions.MessageDeliveryFailure('broker unreachable'))
    with pytest.raises(exceptions.MessagingTimeout):
        waiter.wait('m1', 0.01, None, 'method m')
    waiter._run(connection)
    assert 'Could not check reply queue reply_x' in caplog.text
    assert 'broker unreachable' in caplog.text


def test_a_replaced_reply_queue_ends_the_calls_that_named_it_at_once():
    """When the broker cannot serve the reply queue (its node is down) the
    consumer set has it replaced: the calls whose requests named the old
    queue time out at once, since no reply can reach them; the calls from
    then on name the new one."""
    names = iter(['reply_old', 'reply_new'])
    waiter = ReplyWaiter(lambda: None, lambda: QueueSpec(next(names), False, False), [])
    assert waiter.register('m1') == 'reply_old'
    outcome = []

    def call():
        started = time.monotonic()
        try:
            waiter.wait('m1', 30, None, 'method m')
        except exceptions.MessagingTimeout as ex:
            outcome.append((time.monotonic() - started, str(ex)))

    caller = threading.Thread(target=call)
    caller.start()
    renewed = waiter._renew(waiter.spec)
    caller.join(5)
    assert renewed.name == 'reply_new' == waiter.queue_name
    [(waited, words)] = outcome
    assert waited < 5
    assert 'its reply queue reply_old was lost with its broker node' in words
    assert waiter.register('m2') == 'reply_new'


def _check(waiter, connection):
    """One timed-out call and the waiter thread's check after it."""
    waiter._stopping.clear()
    waiter._next_recheck = 0.0
    with pytest.raises(exceptions.MessagingTimeout):
        waiter.wait('m1', 0.01, None, 'method m')
    waiter._run(connection)


@pytest.mark.parametrize('state, consumed_again', [
    ((0, 1), False),  # nothing waits: the replies just did not come
    ((0, 0), True),   # the broker lost our consumer
])
def test_a_reply_queue_that_counts_no_consumer_is_consumed_again(waiter, caplog, state,
                                                                 consumed_again):
    connection = waiter._connection = _CheckedConnection(waiter, state=state)
    _check(waiter, connection)
    assert connection.link.broken is consumed_again
    assert ('the broker is not delivering it to us' in caplog.text) is consumed_again


def test_replies_waiting_while_none_reach_us_have_the_queue_consumed_again(waiter, caplog):
    """Replies ready in the queue are normal while the consumer's prefetch
    is full; but none received between two checks means they do not move."""
    connection = waiter._connection = _CheckedConnection(waiter, state=(3, 1))
    _check(waiter, connection)
    assert not connection.link.broken
    waiter._replies_received += 1   # a reply came in between: they move
    _check(waiter, connection)
    assert not connection.link.broken
    _check(waiter, connection)      # none since: stuck
    assert connection.link.broken
    assert 'holds 3 replies and counts 1 consumers' in caplog.text
