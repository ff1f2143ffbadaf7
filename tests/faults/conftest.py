"""Fixtures giving fault tests RabbitMQ nodes of their own.

Without ``rabbitmq-server`` installed these tests skip on a developer's
machine (with the reason) and fail in CI, where .ci/run installs it.

``MESSAGING_TEST_CLUSTER_SERIES`` chooses the cluster of ``rabbit_cluster``:
unset, three nodes of the machine's RabbitMQ on loopback (pifpaf); ``4.3``
or ``4.0``, three nodes of that series from its cached Debian root, and
``3.10`` three nodes of the machine's RabbitMQ, each in network namespaces
of its own (tests/brokers/cluster.py). ``partitionable_cluster`` is always
such a cluster, of that series or else 3.10.
"""
from __future__ import annotations

import os

import pytest

from tests.brokers.cluster import HOST_SERIES, SERIES_ENV, Cluster, cluster_support
from tests.faults.rabbit_nodes import RabbitNodes, rabbitmq_installed


def _unavailable(reason: str) -> None:
    if os.environ.get('CI'):
        pytest.fail(reason)
    pytest.skip(reason)


def _nodes(cluster: bool):
    if not rabbitmq_installed():
        _unavailable('rabbitmq-server is not installed, so the fault tests cannot '
                     'start brokers of their own: install Debian\'s rabbitmq-server')
    nodes = RabbitNodes(cluster=cluster).start()
    try:
        yield nodes
    finally:
        nodes.stop()


def _namespaced_cluster(series: str):
    if series == HOST_SERIES and not rabbitmq_installed():
        _unavailable('rabbitmq-server is not installed: install Debian\'s rabbitmq-server')
    reason = cluster_support()
    if reason:
        _unavailable('a cluster in network namespaces cannot run here: %s' % reason)
    cluster = Cluster(series).start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope='module')
def own_node():
    """A single RabbitMQ node of this test module's own, free to restart."""
    yield from _nodes(cluster=False)


@pytest.fixture(scope='module')
def rabbit_cluster():
    """A three-node RabbitMQ cluster of this test module's own (of the series
    ``MESSAGING_TEST_CLUSTER_SERIES`` names, if set)."""
    series = os.environ.get(SERIES_ENV)
    if series:
        yield from _namespaced_cluster(series)
    else:
        yield from _nodes(cluster=True)


@pytest.fixture(scope='module')
def partitionable_cluster():
    """A three-node cluster whose nodes can be cut off from each other (of
    the series ``MESSAGING_TEST_CLUSTER_SERIES`` names, else 3.10)."""
    yield from _namespaced_cluster(os.environ.get(SERIES_ENV) or HOST_SERIES)
