"""The delivery limit of quorum queues, seen from the consumer's side.

A quorum queue counts the deliveries of each message. Requeueing it
(``basic.reject`` with requeue) once its count has reached the queue's
delivery limit makes the broker drop it, or dead-letter it where a policy
gives the queue a dead-letter exchange. As measured on RabbitMQ 3.10.8 and
4.3.6: each delivery carries the count in its ``x-delivery-count`` header
(RabbitMQ 4 leaves the header off the first delivery); with a limit of 2 a
message requeued every time is delivered three times (counts 0 or none, 1,
2). The limit is the queue's ``x-delivery-limit`` argument (set from
``rabbit_quorum_delivery_limit``) or a policy's; without either, RabbitMQ
4 applies 20 and RabbitMQ 3 none.

A notification listener whose endpoint asks for a requeue is the case this
library can see: ``requeue_drops`` tells it that this requeue is the last,
so that the loss is logged where it happens.
"""
from __future__ import annotations

import re
from typing import Any, Optional

COUNT_HEADER = 'x-delivery-count'
# The limit RabbitMQ applies since 4.0 to a quorum queue that sets none.
BROKER_DEFAULT = 20
BROKER_DEFAULT_SINCE = 4


def limit_for(configured: int, server_version: Optional[str]) -> Optional[int]:
    """The delivery limit of a quorum queue we declared, as far as we know.

    :param configured: ``rabbit_quorum_delivery_limit`` (0: not set).
    :param server_version: the broker's ``version`` server property.
    :returns: None when the queue has no limit (RabbitMQ 3 without one).
    """
    if configured > 0:
        return configured
    major = re.match(r'(\d+)\.', server_version or '')
    if major and int(major.group(1)) >= BROKER_DEFAULT_SINCE:
        return BROKER_DEFAULT
    return None


def delivery_count(raw: Any) -> int:
    """How many times the broker delivered ``raw`` before (0 if not told)."""
    headers = raw.properties.get('application_headers') or {}
    count = headers.get(COUNT_HEADER)
    return count if isinstance(count, int) else 0


def requeue_drops(raw: Any, limit: Optional[int]) -> bool:
    """Whether requeueing ``raw`` now makes the broker drop (or
    dead-letter) it, its queue's delivery limit being ``limit``."""
    return limit is not None and delivery_count(raw) >= limit
