"""ConnectionPool and ConnectionContext: bounds, reuse, expiry, misuse."""
from __future__ import annotations

import threading

import pytest

from messaging import exceptions
from messaging.drivers.rabbit.pool import ConnectionContext, ConnectionPool, ConnectionReleasedError


class FakeConnection:
    made = 0

    def __init__(self):
        FakeConnection.made += 1
        self.number = FakeConnection.made
        self.closed = False
        self.value = 'v%d' % self.number

    def close(self):
        self.closed = True


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def make_pool(max_size=2, min_size=0, ttl=None, clock=None):
    return ConnectionPool(FakeConnection, max_size=max_size, min_size=min_size, ttl=ttl,
                          clock=clock or Clock())


def test_pool_never_grows_past_its_bound_and_blocks_the_extra_borrower():
    pool = make_pool(max_size=2)
    first, second = pool.get(), pool.get()
    assert pool.size == 2
    with pytest.raises(TimeoutError):
        pool.get(timeout=0.05)
    got = []
    waiter = threading.Thread(target=lambda: got.append(pool.get(timeout=5)))
    waiter.start()
    pool.put(first)
    waiter.join(timeout=5)
    assert got == [first] and pool.size == 2
    pool.put(second)


def test_idle_connections_are_reused_last_in_first_out():
    pool = make_pool(max_size=3)
    a, b = pool.get(), pool.get()
    pool.put(a)
    pool.put(b)
    assert pool.get() is b
    assert pool.get() is a


def test_no_connection_is_lent_to_two_borrowers_at_once():
    pool = make_pool(max_size=4)
    lent, lock, errors = set(), threading.Lock(), []

    def borrow_many():
        for _ in range(200):
            connection = pool.get(timeout=5)
            with lock:
                if connection in lent:
                    errors.append(connection)
                lent.add(connection)
            with lock:
                lent.discard(connection)
            pool.put(connection)

    threads = [threading.Thread(target=borrow_many) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert errors == [] and pool.size <= 4


def test_idle_connections_past_the_ttl_are_closed_but_min_size_stays():
    clock = Clock()
    pool = make_pool(max_size=4, min_size=1, ttl=60, clock=clock)
    connections = [pool.get() for _ in range(3)]
    for connection in connections:
        pool.put(connection)
    clock.now += 61
    fresh = pool.get()
    pool.put(fresh)  # returning triggers expiry of the old ones
    assert pool.idle == 1 and pool.size == 1
    assert sum(c.closed for c in connections) == 2


def test_context_returns_its_connection_and_refuses_use_after_release():
    pool = make_pool()
    with ConnectionContext(pool) as context:
        assert context.value.startswith('v')
        borrowed = context.connection
    assert pool.idle == 1
    with pytest.raises(ConnectionReleasedError, match='already returned'):
        _ = context.value
    context.release()  # a second release is harmless
    assert pool.get() is borrowed


def test_context_replaces_a_connection_that_failed():
    pool = make_pool()
    with pytest.raises(exceptions.MessageDeliveryFailure):
        with ConnectionContext(pool) as context:
            broken = context.connection
            raise exceptions.MessageDeliveryFailure('broker went away')
    assert broken.closed and pool.size == 0 and pool.idle == 0
    assert pool.get() is not broken


def test_context_keeps_the_connection_after_an_unroutable_message():
    pool = make_pool()
    with pytest.raises(exceptions.MessageUndeliverable):
        with ConnectionContext(pool) as context:
            kept = context.connection
            raise exceptions.MessageUndeliverable(None, 'x', 'key', None)
    assert not kept.closed and pool.idle == 1


def test_closing_the_pool_closes_idle_and_later_returned_connections():
    pool = make_pool()
    idle, lent = pool.get(), pool.get()
    pool.put(idle)
    pool.close()
    assert idle.closed
    pool.put(lent)
    assert lent.closed and pool.size == 0
    with pytest.raises(ConnectionReleasedError):
        pool.get()


def test_a_failing_factory_frees_its_slot():
    pool = ConnectionPool(lambda: 1 / 0, max_size=1)
    with pytest.raises(ZeroDivisionError):
        pool.get()
    assert pool.size == 0
