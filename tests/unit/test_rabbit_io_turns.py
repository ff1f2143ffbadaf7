"""Turns at a connection an I/O thread reads: a turn wakes the I/O thread's
wait for readiness, and the I/O thread waits for the turns to end (or for
the connection to close) before it reads again."""
from __future__ import annotations

import threading
import time

import pytest

from messaging.drivers.rabbit.io_turns import IoTurns

WAIT = 5.0


@pytest.fixture
def turns():
    turns = IoTurns()
    yield turns
    turns.close()


def test_a_turn_wakes_the_wait_for_readiness_at_once(turns):
    woken = threading.Event()

    def io_thread():
        with turns.reading():
            turns.wait_readable(None, WAIT)
        woken.set()

    thread = threading.Thread(target=io_thread)
    thread.start()
    started = time.monotonic()
    with turns.turn():
        assert woken.wait(WAIT)
    assert time.monotonic() - started < WAIT / 2
    thread.join(WAIT)


def test_the_io_thread_waits_for_the_turns_to_end(turns):
    in_turn, leave, done = threading.Event(), threading.Event(), threading.Event()

    def other_thread():
        with turns.turn():
            in_turn.set()
            leave.wait(WAIT)

    def io_thread():
        with turns.reading():
            with turns.turn():  # the reader's own use takes no turn
                own.append(turns.wanted)
            threads[0].start()
            in_turn.wait(WAIT)
            turns.wait_for_turns()
        done.set()

    own = []
    threads = [threading.Thread(target=other_thread), threading.Thread(target=io_thread)]
    threads[1].start()
    assert in_turn.wait(WAIT) and turns.wanted and own == [False]
    assert not done.wait(0.1)
    leave.set()
    assert done.wait(WAIT) and not turns.wanted
    for thread in threads:
        thread.join(WAIT)


def test_stop_releases_an_io_thread_waiting_for_turns(turns):
    done = threading.Event()
    with turns.turn():
        thread = threading.Thread(target=lambda: (turns.wait_for_turns(), done.set()))
        thread.start()
        assert not done.wait(0.1)
        turns.stop()
        assert done.wait(WAIT)
    thread.join(WAIT)
