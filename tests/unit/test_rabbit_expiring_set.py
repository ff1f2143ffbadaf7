"""Names remembered for a while, a bounded number of them (expiring_set.py)."""
from messaging.drivers.rabbit.expiring_set import ExpiringSet


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_a_member_is_kept_for_its_ttl_then_forgotten():
    clock = Clock()
    names = ExpiringSet(ttl=60, max_size=10, clock=clock)
    names.add('q')
    clock.now += 60
    assert 'q' in names
    clock.now += 0.001
    assert 'q' not in names
    assert 'other' not in names


def test_adding_again_restarts_the_ttl():
    clock = Clock()
    names = ExpiringSet(ttl=60, max_size=10, clock=clock)
    names.add('q')
    clock.now += 50
    names.add('q')
    clock.now += 50
    assert 'q' in names


def test_the_oldest_member_goes_first_past_the_bound():
    names = ExpiringSet(ttl=60, max_size=2, clock=Clock())
    for name in ('a', 'b', 'c'):
        names.add(name)
    assert 'a' not in names
    assert 'b' in names and 'c' in names
