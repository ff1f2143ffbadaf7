"""QueueCheck: consumed queues are passively declared now and then, so a
queue deleted under a consumer that was never told is noticed."""
from __future__ import annotations

from messaging.drivers.rabbit import listener as listener_module
from messaging.drivers.rabbit import reply_waiter as reply_waiter_module
from messaging.drivers.rabbit.declarations import QueueSpec
from messaging.drivers.rabbit.queue_check import QueueCheck


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class _Channel:
    def __init__(self) -> None:
        self.passive: list[str] = []

    def queue_declare(self, name: str, passive: bool = False) -> None:
        assert passive, 'a check must never create a queue'
        self.passive.append(name)


class _Connection:
    """Runs ensure()'s method on a recording channel."""

    host = '127.0.0.1:5672'

    def __init__(self) -> None:
        self.channel = _Channel()
        self.ensured: list[str] = []

    def ensure(self, method, retry=None, what='operation', writes=True):
        self.ensured.append(what)
        return method(self.channel)


def test_queues_are_checked_once_per_interval_not_before():
    connection, clock = _Connection(), _Clock()
    check = QueueCheck(connection, lambda: ['q1', 'q2'], interval=5, clock=clock)
    check.maybe_run()
    clock.now += 4.9
    check.maybe_run()
    assert connection.channel.passive == []
    clock.now += 0.1
    check.maybe_run()
    check.maybe_run()
    assert connection.channel.passive == ['q1', 'q2']
    clock.now += 5
    check.maybe_run()
    assert connection.channel.passive == ['q1', 'q2', 'q1', 'q2']


def test_the_check_goes_through_the_connections_retry_path():
    # ensure() is what turns a 404 into reconnect-and-consume-again.
    connection, clock = _Connection(), _Clock()
    check = QueueCheck(connection, lambda: ['reply_x'], interval=1, clock=clock)
    clock.now += 1
    check.maybe_run()
    assert connection.ensured == ['check of consumed queues reply_x']


def test_the_current_queue_names_are_checked():
    connection, clock = _Connection(), _Clock()
    names: list[str] = []
    check = QueueCheck(connection, lambda: names, interval=1, clock=clock)
    clock.now += 1
    check.maybe_run()
    assert connection.ensured == []
    names.append('late')
    clock.now += 1
    check.maybe_run()
    assert connection.channel.passive == ['late']


def test_listener_and_reply_waiter_check_their_queues_between_drains(monkeypatch):
    runs = []

    class _RecordingCheck:
        def __init__(self, connection, names, **kwargs) -> None:
            self.names = names

        def maybe_run(self) -> None:
            runs.append(list(self.names()))

    monkeypatch.setattr(listener_module, 'QueueCheck', _RecordingCheck)
    monkeypatch.setattr(reply_waiter_module, 'QueueCheck', _RecordingCheck)

    class _DrainingConnection(_Connection):
        def __init__(self, stop) -> None:
            super().__init__()
            self._stop = stop

        def drain(self, timeout: float) -> None:
            self._stop()

    listener = listener_module.NotificationListener(
        _DrainingConnection(lambda: None), batch_size=1, batch_timeout=None,
        prefetch_size=0, on_cleanup=lambda _: None)
    listener.queue_names.append('topic.info')
    assert listener._poll_one(timeout=0.01) is None
    assert runs and runs[0] == ['topic.info']

    runs.clear()
    waiter = reply_waiter_module.ReplyWaiter(lambda: None,
                                             QueueSpec('reply_abc', False, False), [])
    waiter._run(_DrainingConnection(waiter._stopping.set))
    assert runs == [['reply_abc']]

