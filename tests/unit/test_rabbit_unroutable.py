"""Calls and casts the broker returned as unroutable are published again for
a bounded while; a cast to a key no queue came for is remembered and then
dropped at once (unroutable.py). The clock is the test's: no sleeps."""
import logging

import pytest

from messaging import exceptions
from messaging.drivers.rabbit import backoff, unroutable
from messaging.drivers.rabbit.unroutable import Republisher


class Broker:
    """A fake clock, sleep and publish: the first ``returns`` publishes are
    returned as unroutable; each publish is stamped with the clock."""

    def __init__(self, returns: float = float('inf')) -> None:
        self.now = 1000.0
        self.returns = returns
        self.published: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds > 0
        self.now += seconds

    def publish(self) -> None:
        self.published.append(self.now)
        if len(self.published) <= self.returns:
            raise exceptions.MessageUndeliverable(Exception('NO_ROUTE'), 'x', 'k', None)

    def waits(self) -> list[float]:
        return [round(b - a, 6) for a, b in zip(self.published, self.published[1:])]


def republisher(broker: Broker, cast_bound: float = 60.0) -> Republisher:
    return Republisher(cast_bound, clock=broker.clock, sleep=broker.sleep)


def warnings_of(caplog):
    return [r for r in caplog.records if r.levelno == logging.WARNING]


@pytest.mark.parametrize('kind', ['call', 'cast'])
def test_a_routed_request_is_published_once_without_waiting(kind):
    broker = Broker(returns=0)
    again = republisher(broker)
    routed = (again.call(broker.publish, 'x', 'k', broker.now + 5) if kind == 'call'
              else again.cast(broker.publish, 'x', 'k'))
    assert routed and broker.published == [1000.0]


def test_waits_start_short_and_double_up_to_the_most():
    broker = Broker(returns=8)
    assert republisher(broker).call(broker.publish, 'x', 'k', broker.now + 60)
    assert broker.waits() == [0.02, 0.04, 0.08, 0.16, 0.32, 0.5, 0.5, 0.5]


def test_a_call_is_published_again_until_its_queue_comes():
    broker = Broker(returns=3)
    assert republisher(broker).call(broker.publish, 'x', 'k', broker.now + 5)
    assert len(broker.published) == 4


def test_a_call_never_routed_stops_just_before_its_deadline():
    broker = Broker()
    deadline = broker.now + 3
    assert not republisher(broker).call(broker.publish, 'x', 'k', deadline)
    assert broker.published[-1] == pytest.approx(deadline - backoff.LAST_TRY)
    assert broker.now == pytest.approx(deadline - backoff.LAST_TRY)


def test_a_call_without_timeout_is_published_again_until_routed():
    broker = Broker(returns=200)
    assert republisher(broker).call(broker.publish, 'x', 'k', None)
    assert len(broker.published) == 201


def test_a_cast_is_published_again_within_its_window(caplog):
    broker = Broker(returns=4)
    caplog.set_level(logging.DEBUG)
    assert republisher(broker).cast(broker.publish, 'x', 'k')
    assert len(broker.published) == 5
    assert warnings_of(caplog) == []


def test_a_cast_never_routed_is_dropped_at_the_window_end_with_one_warning(caplog):
    broker = Broker()
    again = republisher(broker)
    caplog.set_level(logging.DEBUG)
    assert not again.cast(broker.publish, 'x', 'k')
    assert again.cast_window == unroutable.CAST_WINDOW
    assert broker.now - broker.published[0] == pytest.approx(again.cast_window)
    assert broker.published[-1] == pytest.approx(broker.published[0] + again.cast_window)
    [warning] = warnings_of(caplog)
    assert warning.getMessage().startswith(
        'No server queue exists for routing key k on exchange x: a cast to it was dropped')
    assert (warning.exchange, warning.routing_key) == ('x', 'k')


def test_the_window_is_never_longer_than_publish_timeout():
    broker = Broker()
    again = republisher(broker, cast_bound=0.3)
    assert not again.cast(broker.publish, 'x', 'k')
    assert again.cast_window == 0.3
    assert broker.now - broker.published[0] == pytest.approx(0.3)


def test_a_remembered_key_is_dropped_at_once_after_one_return_without_warning(caplog):
    broker = Broker()
    again = republisher(broker)
    again.cast(broker.publish, 'x', 'k')
    caplog.set_level(logging.DEBUG)
    caplog.clear()
    published, now = len(broker.published), broker.now
    assert not again.cast(broker.publish, 'x', 'k')
    assert len(broker.published) == published + 1 and broker.now == now
    assert warnings_of(caplog) == []
    assert any('cast dropped' in r.getMessage() for r in caplog.records)


def test_a_remembered_key_routed_again_is_delivered():
    broker = Broker()
    again = republisher(broker)
    again.cast(broker.publish, 'x', 'k')
    broker.returns = len(broker.published)  # a server declared the queue
    assert again.cast(broker.publish, 'x', 'k')


def test_other_keys_still_get_their_window():
    broker = Broker()
    again = republisher(broker)
    again.cast(broker.publish, 'x', 'k')
    started = broker.now
    again.cast(broker.publish, 'x', 'other')
    assert broker.now - started == pytest.approx(again.cast_window)


def test_the_memory_ends_and_the_next_cast_has_a_window_and_a_warning_again(caplog):
    broker = Broker()
    again = republisher(broker)
    caplog.set_level(logging.WARNING)
    again.cast(broker.publish, 'x', 'k')
    broker.now += unroutable.REMEMBER + 1
    started = broker.now
    assert not again.cast(broker.publish, 'x', 'k')
    assert broker.now - started == pytest.approx(again.cast_window)
    assert len(warnings_of(caplog)) == 2


def test_calls_neither_use_nor_fill_the_memory():
    broker = Broker()
    again = republisher(broker)
    again.cast(broker.publish, 'x', 'k')
    published = len(broker.published)
    assert not again.call(broker.publish, 'x', 'k', broker.now + 1)
    assert len(broker.published) > published + 1
    assert ('x', 'c') not in again.unroutable
    again.call(broker.publish, 'x', 'c', broker.now + 1)
    assert ('x', 'c') not in again.unroutable


def test_a_publish_failure_other_than_a_return_is_raised_at_once():
    broker = Broker()

    def publish():
        raise exceptions.MessageDeliveryFailure('gone')

    with pytest.raises(exceptions.MessageDeliveryFailure):
        republisher(broker).cast(publish, 'x', 'k')
    assert broker.now == 1000.0
