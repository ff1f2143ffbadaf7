"""The order in which a connection tries the hosts of a multi-host URL.

Every connection starts on a random host (as oslo.messaging does, to spread
processes over a cluster); after a failure ``kombu_failover_strategy``
picks the next one: round-robin walks the list in order, shuffle draws at
random. No broker is needed: the hosts are closed local ports, so every
attempt is refused at once and the log record says where the next one goes
(its ``next_broker`` attribute).
"""
from __future__ import annotations

import logging
import random
import socket

import pytest
from kombu.utils import functional as kombu_functional
from oslo_config import cfg

import messaging
from messaging.drivers.rabbit import driver as impl_rabbit

_NO_DELAY = 'kombu_reconnect_delay=0&rabbit_retry_interval=0&rabbit_retry_backoff=0'


def _closed_ports(count: int) -> list[int]:
    """Local ports nothing listens on (bound, then released)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(('127.0.0.1', 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _driver(ports: list[int], strategy: str):
    hosts = ','.join('u:p@127.0.0.1:%d' % port for port in ports)
    conf = cfg.ConfigOpts()
    conf([])
    transport = messaging.get_rpc_transport(
        conf, 'rabbit://%s/?kombu_failover_strategy=%s&%s' % (hosts, strategy, _NO_DELAY))
    return transport._driver


def _hosts_tried(driver, caplog, attempts: int) -> list[int]:
    """The ports one new connection is sent to after each failed attempt."""
    connection = driver._make_connection(listening=False)
    first = int(connection.host.rsplit(':', 1)[1])
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger='messaging.drivers.rabbit.retry_log'):
        with pytest.raises(messaging.MessageDeliveryFailure):
            connection.ensure(lambda channel: None, retry=attempts - 1, what='probe')
    connection.close()
    return [first] + [int(record.next_broker.rsplit(':', 1)[1]) for record in caplog.records
                      if hasattr(record, 'next_broker')]


def test_round_robin_tries_every_host_in_turn_from_where_it_started(caplog):
    ports = _closed_ports(3)
    driver = _driver(ports, 'round-robin')
    for _ in range(5):
        tried = _hosts_tried(driver, caplog, attempts=7)
        start = ports.index(tried[0])
        # The driver shuffled the list before handing it to kombu: the walk
        # is a fixed cycle over all three hosts, whatever the start.
        cycle = tried[:3]
        assert sorted(cycle) == sorted(ports)
        assert tried == [cycle[i % 3] for i in range(len(tried))], (start, tried)


def test_round_robin_keeps_the_url_order_when_the_start_is_the_first_host(monkeypatch,
                                                                          caplog):
    ports = _closed_ports(3)
    monkeypatch.setattr(impl_rabbit, 'random', _KeepOrder)
    tried = _hosts_tried(_driver(ports, 'round-robin'), caplog, attempts=6)
    assert tried == ports + ports


def test_shuffle_draws_the_next_host_at_random(monkeypatch, caplog):
    ports = _closed_ports(3)
    monkeypatch.setattr(impl_rabbit, 'random', _KeepOrder)
    # A seeded generator makes kombu's draws, and so this test, repeatable.
    monkeypatch.setattr(kombu_functional, 'random', random.Random(20261121))
    tried = _hosts_tried(_driver(ports, 'shuffle'), caplog, attempts=30)
    assert tried[0] == ports[0]
    assert set(tried) == set(ports)
    assert tried != [ports[i % 3] for i in range(len(tried))]


@pytest.mark.parametrize('strategy', ['round-robin', 'shuffle'])
def test_new_connections_start_on_different_hosts(monkeypatch, strategy):
    ports = _closed_ports(3)
    monkeypatch.setattr(impl_rabbit, 'random', random.Random(7))
    driver = _driver(ports, strategy)
    starts = {driver._make_connection(listening=True).link.host for _ in range(30)}
    assert starts == {'127.0.0.1:%d' % port for port in ports}


class _KeepOrder:
    """Stands in for the driver's ``random``: connections start on the
    URL's first host."""

    @staticmethod
    def shuffle(hosts: list) -> None:
        """Leave the hosts in URL order."""
