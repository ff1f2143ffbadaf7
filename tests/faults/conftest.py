"""Fixtures giving fault tests RabbitMQ nodes of their own.

Without ``rabbitmq-server`` installed these tests skip on a developer's
machine (with the reason) and fail in CI, where .ci/run installs it.
"""
from __future__ import annotations

import os

import pytest

from tests.faults.rabbit_nodes import RabbitNodes, rabbitmq_installed


def _nodes(cluster: bool):
    if not rabbitmq_installed():
        reason = ('rabbitmq-server is not installed, so the fault tests cannot '
                  'start brokers of their own: install Debian\'s rabbitmq-server')
        if os.environ.get('CI'):
            pytest.fail(reason)
        pytest.skip(reason)
    nodes = RabbitNodes(cluster=cluster).start()
    try:
        yield nodes
    finally:
        nodes.stop()


@pytest.fixture(scope='module')
def own_node():
    """A single RabbitMQ node of this test module's own, free to restart."""
    yield from _nodes(cluster=False)


@pytest.fixture(scope='module')
def rabbit_cluster():
    """A three-node RabbitMQ cluster of this test module's own."""
    yield from _nodes(cluster=True)
