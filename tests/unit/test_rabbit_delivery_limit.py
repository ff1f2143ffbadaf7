"""Which delivery limit a quorum queue has, and when a requeue is its last."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from messaging.drivers.rabbit import delivery_limit


@pytest.mark.parametrize('configured, version, limit', [
    (0, '3.10.8', None),
    (0, '4.0.5', 20),
    (0, '4.3.6', 20),
    (5, '3.10.8', 5),
    (5, '4.3.6', 5),
    (0, None, None),
])
def test_the_limit_is_the_configured_one_else_rabbitmq_4s_default(configured, version,
                                                                  limit):
    assert delivery_limit.limit_for(configured, version) == limit


def _delivery(headers):
    return SimpleNamespace(properties={'application_headers': headers})


def test_a_requeue_drops_the_message_once_its_count_reaches_the_limit():
    assert not delivery_limit.requeue_drops(_delivery(None), 2)
    assert not delivery_limit.requeue_drops(_delivery({'x-delivery-count': 1}), 2)
    assert delivery_limit.requeue_drops(_delivery({'x-delivery-count': 2}), 2)
    assert not delivery_limit.requeue_drops(_delivery({'x-delivery-count': 50}), None)
