"""What a timed-out call is told about the broker's queues (each case of
timeout_diagnosis; tests/functional/test_rabbit_timeouts.py makes them on a
real broker)."""
import contextlib

import pytest

from messaging import exceptions
from messaging.drivers.rabbit import timeout_diagnosis


class Broker:
    """Lends a connection that answers queue_state from a table."""

    def __init__(self, states, fails=False):
        self.states = states
        self.fails = fails
        self.asked = []

    @contextlib.contextmanager
    def borrow(self, timeout):
        if self.fails:
            raise exceptions.MessageDeliveryFailure('broker down')
        yield self

    def queue_state(self, name, deadline):
        self.asked.append(name)
        return self.states.get(name)


@pytest.mark.parametrize('state, words', [
    (None, 'queue t does not exist: no server'),
    ((2, 0), 'no server consumes queue t (2 message(s) wait in it)'),
    ((5, 2), 'the request may still be queued: queue t holds 5 message(s) for 2 server'),
    ((0, 1), 'a server took the request (queue t is empty, 1 consumer(s))'),
])
def test_each_state_of_the_request_queue(state, words):
    broker = Broker({'reply_q': (0, 1), 't': state})
    assert words in timeout_diagnosis.explain(broker.borrow, 't', 'reply_q')
    assert broker.asked == ['reply_q', 't']


def test_a_reply_queue_missing_now():
    broker = Broker({'t': (0, 1)})
    assert timeout_diagnosis.explain(broker.borrow, 't', 'reply_q') == (
        'the reply queue reply_q was lost (deleted, or gone with a broker node), so the '
        'reply had nowhere to go')


def test_a_reply_queue_declared_again_during_the_call_asks_nothing():
    broker = Broker({})
    assert 'lost during the call and declared again' in timeout_diagnosis.explain(
        broker.borrow, 't', 'reply_q', reply_queue_redeclared=True)
    assert broker.asked == []


def test_a_broker_that_cannot_be_asked_adds_nothing():
    assert timeout_diagnosis.explain(Broker({}, fails=True).borrow, 't', 'reply_q') == ''
