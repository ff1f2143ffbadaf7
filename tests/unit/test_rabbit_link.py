"""The link on its own (a fake kombu connection under it): the parts told of
each new channel, the socket-timeout rule, the background backoff, close,
and the locks and turns other threads meet."""
from __future__ import annotations

import threading
import time

import pytest

from messaging import exceptions
from messaging.drivers.rabbit.io_turns import IoTurns
from tests.unit.rabbit_fakes import linked

WAIT = 5.0


class Recorder:
    """A channel user that records the channels it was told of; fails the
    first ``failures`` times."""

    def __init__(self, seen: list, failures: int = 0) -> None:
        self.seen = seen
        self.failures = failures

    def channel_opened(self, channel) -> None:
        self.seen.append((self, channel))
        if self.failures:
            self.failures -= 1
            raise ConnectionResetError('lost while setting up')


@pytest.fixture
def link(fake_link):
    return fake_link


def test_each_new_channel_is_set_up_by_every_user_in_order(link):
    seen = []
    first, second = Recorder(seen), Recorder(seen)
    link.add_channel_user(first)
    link.add_channel_user(second)
    link.ensure(lambda channel: None)
    link.mark_broken()
    link.ensure(lambda channel: None)
    channels = [channel for _user, channel in seen]
    assert [user for user, _channel in seen] == [first, second, first, second]
    assert channels[0] is channels[1] and channels[2] is channels[3] is link.channel
    assert link.generation == 2


def test_a_user_failing_to_set_up_a_channel_is_retried_as_the_operation(link):
    seen = []
    link.add_channel_user(Recorder(seen, failures=1))
    assert link.ensure(lambda channel: 'done', what='probe') == 'done'
    assert len(seen) == 2 and seen[1][1] is link.channel


def test_a_synchronous_method_gets_the_deadlines_timeout_or_none(link):
    link.ensure(lambda channel: None)
    sock = link.channel.connection.sock
    link.ensure(lambda channel: None, deadline=time.monotonic() + 30)
    assert 29 < sock.gettimeout() <= 30
    link.ensure(lambda channel: None)
    assert sock.gettimeout() is None


def test_a_wait_or_a_publish_sets_its_own_timeout_and_keeps_it(link):
    link.ensure(lambda channel: None)
    sock = link.channel.connection.sock
    link.ensure(lambda channel: link.wait_timeout(0.25), writes=False)
    assert sock.gettimeout() == 0.25
    link.ensure(lambda channel: None, writes=False)
    assert sock.gettimeout() == 0.25  # nobody restores it: the next reader sets its own
    link.publish_timeout(9.5, 10.0)
    assert sock.gettimeout() == 10.0  # most of the bound left: the bound itself
    link.publish_timeout(2.0, 10.0)
    assert sock.gettimeout() == 2.0


def test_exclusive_holds_the_link_with_its_timeout_and_only_while_usable(link):
    link.ensure(lambda channel: link.wait_timeout(0.25), writes=False)
    with link.exclusive(5.0) as channel:
        assert channel is link.channel
        assert channel.connection.sock.gettimeout() == 5.0
    link.mark_broken()
    with link.exclusive(5.0) as channel:
        assert channel is None


def test_a_background_failure_returns_at_once_and_sets_when_to_try_again(link):
    def fail(channel):
        raise ConnectionResetError('down')

    started = time.monotonic()
    assert link.ensure(fail, what='consume', background=True) is None
    assert link.retry_at is not None and link.retry_at > started
    assert link.channel is None
    time.sleep(max(link.retry_at - time.monotonic(), 0))
    link.ensure(lambda channel: None, background=True)
    assert link.retry_at is None and link.channel is not None


def test_close_cuts_a_backoff_short_and_fails_what_comes_after():
    link, _kombu = linked(kombu_reconnect_delay=30.0)
    link.ensure(lambda channel: None)  # connected once: reconnects back off
    started = threading.Event()
    outcome = []

    def fail(channel):
        started.set()
        raise ConnectionResetError('down')

    def run():
        try:
            link.ensure(fail, retry=None)
        except exceptions.MessageDeliveryFailure as ex:
            outcome.append(ex)

    thread = threading.Thread(target=run)
    thread.start()
    assert started.wait(WAIT)
    link.close()
    thread.join(WAIT)
    assert not thread.is_alive() and outcome
    with pytest.raises(exceptions.MessageDeliveryFailure, match='is closed'):
        link.ensure(lambda channel: None)


def test_reading_if_free_gives_way_to_a_thread_that_reads(link):
    link.ensure(lambda channel: None)
    inside, leave = threading.Event(), threading.Event()

    def read(channel):
        inside.set()
        leave.wait(WAIT)

    reader = threading.Thread(target=link.ensure, args=(read,), kwargs={'writes': False})
    reader.start()
    assert inside.wait(WAIT)
    try:
        with link.reading_if_free() as channel:
            assert channel is None
    finally:
        leave.set()
        reader.join(WAIT)
    with link.reading_if_free() as channel:
        assert channel is link.channel


def test_an_operation_of_another_thread_takes_a_turn_at_an_io_read_link():
    turns = IoTurns()
    link, _kombu = linked(turns=turns)
    try:
        wanted = link.ensure(lambda channel: turns.wanted)
        assert wanted and not turns.wanted
    finally:
        link.close()
        turns.close()


def test_a_confirm_wait_reads_one_frame_at_a_time(link):
    # py-amqp's drain_events reads on through heartbeats until a method
    # comes: a broker that never confirms but sends heartbeats would hold a
    # publish past its deadline forever (seen on a RabbitMQ 4.3 node cut
    # off from its cluster). One frame per read lets the wait see its deadline.
    link.ensure(lambda channel: None)
    amqp_connection = link.channel.connection
    link.ensure(lambda channel: link.read_frames())
    assert amqp_connection.frames_read == 1 and amqp_connection.reads == 0
    link.close()
