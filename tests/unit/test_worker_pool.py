"""The shared elastic worker pool and the executors' bound and backlog."""
import logging
import threading
import time

import pytest

from messaging import executors, worker_pool

LONG = 5.0


def test_sequential_work_reuses_one_idle_thread():
    pool = worker_pool.WorkerPool(idle_exit=LONG)
    names = []
    for _ in range(5):
        done = threading.Event()
        pool.run(lambda event=done: (names.append(threading.current_thread().name), event.set()))
        assert done.wait(LONG)
        # The worker goes idle just after the task; nothing signals it.
        deadline = time.monotonic() + LONG
        while pool.idle == 0 and time.monotonic() < deadline:
            threading.Event().wait(0.001)
    assert len(set(names)) == 1
    assert pool.threads == 1


def test_busy_workers_make_the_pool_start_another():
    pool = worker_pool.WorkerPool(idle_exit=LONG)
    pool.allow(3)
    release = threading.Event()
    started = threading.Semaphore(0)

    def block():
        started.release()
        release.wait(LONG)

    for _ in range(3):
        pool.run(block)
    for _ in range(3):
        assert started.acquire(timeout=LONG)
    assert pool.threads == 3
    release.set()


def test_an_idle_worker_ends_after_the_idle_time():
    pool = worker_pool.WorkerPool(idle_exit=0.05)
    seen = []
    done = threading.Event()
    pool.run(lambda: (seen.append(threading.current_thread()), done.set()))
    assert done.wait(LONG)
    seen[0].join(LONG)
    assert not seen[0].is_alive()
    assert pool.threads == 0


def test_an_error_in_a_task_is_logged_and_the_worker_goes_on():
    pool = worker_pool.WorkerPool(idle_exit=LONG)
    logged = threading.Event()

    class Seen(logging.Handler):
        def emit(self, record):
            if 'Unhandled error' in record.getMessage():
                logged.set()

    handler = Seen()
    logging.getLogger('messaging.worker_pool').addHandler(handler)
    try:
        done = threading.Event()
        pool.run(lambda: 1 / 0)
        assert logged.wait(LONG)
        pool.run(done.set)
        assert done.wait(LONG)
    finally:
        logging.getLogger('messaging.worker_pool').removeHandler(handler)


class Gate:
    """Tasks that record their order and block until released."""

    def __init__(self):
        self.lock = threading.Lock()
        self.order, self.running, self.most = [], 0, 0
        self.release = threading.Event()
        self.started = threading.Semaphore(0)

    def task(self, n):
        with self.lock:
            self.order.append(n)
            self.running += 1
            self.most = max(self.most, self.running)
        self.started.release()
        self.release.wait(LONG)
        with self.lock:
            self.running -= 1


def test_offer_never_blocks_and_keeps_the_bound_and_the_order():
    executor = executors.ThreadingExecutor(2)
    gate = Gate()
    for n in range(6):
        executor.offer(gate.task, n)  # would hang the test if it blocked
    assert gate.started.acquire(timeout=LONG) and gate.started.acquire(timeout=LONG)
    gate.release.set()
    executor.shutdown(wait=True)
    assert gate.most == 2
    assert sorted(gate.order[:2]) == [0, 1] and gate.order[2:] == [2, 3, 4, 5]


def test_take_backlog_returns_what_was_not_started():
    executor = executors.ThreadingExecutor(1)
    gate = Gate()
    for n in range(4):
        executor.offer(gate.task, n)
    assert gate.started.acquire(timeout=LONG)
    assert executor.take_backlog() == [(1,), (2,), (3,)]
    gate.release.set()
    executor.shutdown(wait=True)
    assert gate.order == [0]


def test_submit_blocks_while_the_executor_is_full():
    executor = executors.ThreadingExecutor(1)
    gate = Gate()
    executor.submit(gate.task, 0)
    assert gate.started.acquire(timeout=LONG)
    second_submitted = threading.Event()

    def submit_second():
        executor.submit(gate.task, 1)
        second_submitted.set()

    threading.Thread(target=submit_second, daemon=True).start()
    assert not second_submitted.wait(0.1)
    gate.release.set()
    assert second_submitted.wait(LONG)
    executor.shutdown(wait=True)
    assert gate.order == [0, 1]


def test_a_worker_that_cannot_start_frees_its_slot(monkeypatch):
    executor = executors.ThreadingExecutor(1)

    class NoThreads:
        def run(self, *args, first=False):
            raise RuntimeError("can't start new thread")

    monkeypatch.setattr(worker_pool, 'shared', lambda: NoThreads())
    with pytest.raises(RuntimeError):
        executor.offer(print, 'x')
    monkeypatch.undo()
    done = threading.Event()
    executor.offer(done.set)
    assert done.wait(LONG)


def test_past_its_limit_the_pool_queues_work_for_the_first_free_thread():
    pool = worker_pool.WorkerPool(idle_exit=LONG)
    pool.allow(2)
    gate = Gate()
    for n in range(4):
        pool.run(gate.task, n)
    assert gate.started.acquire(timeout=LONG) and gate.started.acquire(timeout=LONG)
    assert pool.threads == 2
    gate.release.set()
    for _ in range(2):
        assert gate.started.acquire(timeout=LONG)
    assert gate.most == 2 and sorted(gate.order) == [0, 1, 2, 3]


def test_a_full_pool_whose_queue_stands_still_starts_another_thread(monkeypatch):
    # Two servers of one process: the first's handlers all wait for the
    # second's, which must still run although the pool is at its limit.
    monkeypatch.setattr(worker_pool, 'STUCK_AFTER', 0.05)
    pool = worker_pool.WorkerPool(idle_exit=LONG)
    pool.allow(2)
    gate = Gate()
    for n in range(2):
        pool.run(gate.task, n)
    assert gate.started.acquire(timeout=LONG) and gate.started.acquire(timeout=LONG)
    ran = threading.Event()
    pool.run(ran.set, first=True)
    assert ran.wait(LONG)
    assert pool.threads == 3
    gate.release.set()


def test_an_executors_only_handler_waits_before_the_rest():
    pool = worker_pool.WorkerPool(idle_exit=LONG)
    gate = Gate()
    pool.run(gate.task, 0)
    assert gate.started.acquire(timeout=LONG)
    pool.run(gate.task, 1)
    pool.run(gate.task, 2, first=True)
    gate.release.set()
    for _ in range(2):
        assert gate.started.acquire(timeout=LONG)
    assert gate.order == [0, 2, 1]


def test_the_pool_grows_to_the_largest_executors_bound():
    pool = worker_pool.shared()
    executors.ThreadingExecutor(3)
    executors.ThreadingExecutor(2)
    gate = Gate()
    for n in range(3):
        pool.run(gate.task, n)
    for _ in range(3):
        assert gate.started.acquire(timeout=LONG)
    gate.release.set()
