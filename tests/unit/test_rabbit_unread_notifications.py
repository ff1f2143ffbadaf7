"""A notification queue nobody reads gets one WARNING, not one per message."""
import logging

from messaging.drivers.rabbit.unread_notifications import UnreadNotifications


def warnings_of(caplog):
    return [r for r in caplog.records if r.levelno == logging.WARNING]


def test_a_growing_queue_without_consumer_is_warned_of_once(caplog):
    watch = UnreadNotifications(interval=60)
    caplog.set_level(logging.WARNING)
    assert watch.due('n.info', now=0.0)
    watch.observe('n.info', 10, 0)
    assert not watch.due('n.info', now=30.0)
    assert watch.due('n.info', now=61.0)
    watch.observe('n.info', 25, 0)
    watch.observe('n.info', 40, 0)
    [warning] = warnings_of(caplog)
    assert warning.queue == 'n.info' and warning.depth == 25
    assert 'has no consumer and grows (25 messages, 15 more' in warning.getMessage()
    assert 'max-length' in warning.getMessage()


def test_a_queue_that_is_read_or_does_not_grow_is_left_alone(caplog):
    watch = UnreadNotifications(interval=0)
    caplog.set_level(logging.WARNING)
    for depth, consumers in ((5, 0), (5, 0), (9, 1), (3, 0)):
        watch.due('q', now=0.0)
        watch.observe('q', depth, consumers)
    assert warnings_of(caplog) == []


def test_a_queue_read_again_is_warned_of_again_when_it_grows_anew(caplog):
    watch = UnreadNotifications(interval=0)
    caplog.set_level(logging.WARNING)
    for depth, consumers in ((1, 0), (2, 0), (0, 1), (1, 0), (2, 0)):
        watch.due('q', now=0.0)
        watch.observe('q', depth, consumers)
    assert len(warnings_of(caplog)) == 2


def test_a_look_that_fails_says_nothing(caplog):
    class Down:
        def queue_state(self, name):
            raise OSError('broker gone')

    caplog.set_level(logging.WARNING)
    UnreadNotifications().look(Down(), 'q')
    assert warnings_of(caplog) == []
