"""Who reads the reply connection: the waiting caller itself, one at a
time, handing the turn on; the background thread only when calls idle."""
import queue
import threading

import pytest

from messaging.drivers.rabbit import reply_turns
from messaging.drivers.rabbit.reply_turns import ReadingTurns

LONG = 5.0


class Wire:
    """A fake reply connection: read() hands out queued (mailbox, reply)
    pairs, one per read, recording which thread read and what told it
    that its reader was done."""

    def __init__(self):
        self.turns = ReadingTurns(self.read, 0.05)
        self.pending = queue.SimpleQueue()
        self.readers = []
        self.dones = []

    def read(self, timeout, done):
        self.readers.append(threading.current_thread().name)
        self.dones.append(done)
        try:
            mailbox, reply = self.pending.get(timeout=timeout)
        except queue.Empty:
            return
        self.turns.deliver(mailbox, reply)


@pytest.fixture
def wire():
    wire = Wire()
    wire.turns.let_callers_read()
    return wire


def test_a_waiting_caller_reads_its_own_reply(wire):
    mailbox = wire.turns.mailbox()
    wire.pending.put((mailbox, 'r1'))
    assert wire.turns.next_reply(mailbox, LONG) == 'r1'
    assert set(wire.readers) == {threading.current_thread().name}


def test_a_callers_read_is_told_when_its_own_reply_has_come(wire):
    mine, theirs = wire.turns.mailbox(), wire.turns.mailbox()
    wire.pending.put((mine, 'mine'))
    assert wire.turns.next_reply(mine, LONG) == 'mine'
    done = wire.dones[-1]
    assert done is not None
    # Popped by next_reply by now: an empty mailbox is not done.
    assert not done()
    wire.turns.deliver(mine, 'late')
    assert done()
    wire.turns.deliver(theirs, 'theirs')
    mine.replies.clear()
    assert not done()


def test_a_reply_read_by_another_caller_reaches_its_mailbox(wire):
    mine, theirs = wire.turns.mailbox(), wire.turns.mailbox()
    # Their reply comes first on the wire, then mine: whoever reads
    # delivers both, and each caller gets its own.
    wire.pending.put((theirs, 'theirs'))
    wire.pending.put((mine, 'mine'))
    got = {}
    other = threading.Thread(target=lambda: got.update(t=wire.turns.next_reply(theirs, LONG)))
    other.start()
    got['m'] = wire.turns.next_reply(mine, LONG)
    other.join(LONG)
    assert got == {'m': 'mine', 't': 'theirs'}


def test_the_turn_passes_to_a_caller_still_waiting(wire):
    first, second = wire.turns.mailbox(), wire.turns.mailbox()
    results = queue.SimpleQueue()

    def call(mailbox):
        results.put(wire.turns.next_reply(mailbox, LONG))

    callers = [threading.Thread(target=call, args=(m,), name='caller-%d' % n)
               for n, m in enumerate((first, second))]
    for caller in callers:
        caller.start()
    # Only after both wait: the reader gets the first reply, leaves, and
    # the other must take the turn to read the second.
    wire.pending.put((first, 1))
    assert results.get(timeout=LONG) == 1
    wire.pending.put((second, 2))
    assert results.get(timeout=LONG) == 2
    for caller in callers:
        caller.join(LONG)


def test_a_caller_times_out_when_no_reply_comes(wire):
    with pytest.raises(queue.Empty):
        wire.turns.next_reply(wire.turns.mailbox(), 0.1)


def test_callers_do_not_read_before_the_connection_consumes():
    wire = Wire()
    mailbox = wire.turns.mailbox()
    delivered = threading.Timer(0.05, wire.turns.deliver, (mailbox, 'late'))
    delivered.start()
    assert wire.turns.next_reply(mailbox, LONG) == 'late'
    assert wire.readers == []


def test_the_background_reads_only_after_calls_were_idle(wire, monkeypatch):
    monkeypatch.setattr(reply_turns, 'IDLE_BEFORE_BACKGROUND', 0.05)
    stopping = threading.Event()
    mailbox = wire.turns.mailbox()
    delivered = threading.Event()
    deliver = wire.turns.deliver
    monkeypatch.setattr(wire.turns, 'deliver', lambda m, r: (deliver(m, r), delivered.set()))
    wire.pending.put((mailbox, 'stray'))
    background = threading.Thread(target=wire.turns.run_background, args=(stopping,),
                                  name='background')
    background.start()
    try:
        # Nobody waits: the background thread reads and delivers the reply.
        assert delivered.wait(LONG)
    finally:
        stopping.set()
        wire.turns.wake_background()
        background.join(LONG)
    assert not background.is_alive()
    assert set(wire.readers) == {'background'}
    assert wire.turns.next_reply(mailbox, LONG) == 'stray'
