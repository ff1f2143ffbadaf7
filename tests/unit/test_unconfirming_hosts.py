"""The hosts a driver's connections leave after a publish went unconfirmed."""
import time

from messaging.drivers.rabbit import unconfirming_hosts
from messaging.drivers.rabbit.unconfirming_hosts import UnconfirmingHosts


def test_a_reported_host_is_left_by_links_connected_before_the_report_only():
    hosts = UnconfirmingHosts()
    assert not hosts
    before = time.monotonic()
    hosts.report('node0:5672')
    assert hosts
    after = time.monotonic() + 1
    assert hosts.reported_since('node0:5672', before)
    assert not hosts.reported_since('node0:5672', after)
    assert not hosts.reported_since('node1:5672', before)


def test_new_connections_pass_over_a_reported_host_for_a_while(monkeypatch):
    hosts = UnconfirmingHosts()
    assert not hosts.avoided('node0:5672')
    hosts.report('node0:5672')
    assert hosts.avoided('node0:5672')
    assert not hosts.avoided('node1:5672')
    monkeypatch.setattr(unconfirming_hosts, 'AVOID_FOR', 0.0)
    assert not hosts.avoided('node0:5672')
