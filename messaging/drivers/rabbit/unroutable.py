"""Requests the broker returned as unroutable, published again for a while.

Calls and casts to a topic (not fanouts, notifications or replies) are
published mandatory, so that the broker returns one no queue is bound for
(``basic.return``, before its confirm) and the publisher raises
``MessageUndeliverable`` instead of taking the confirm for a delivery. A
topic has no queue for a moment when an operator retires it to change its
type (queue_retirement.py; operations.rst, "Changing queue type without an
outage"): the servers, their consumers cancelled, declare it again about
0.1 s later (``ConsumerSet``'s ``CANCEL_SETTLE``).
So a returned request is published again after a short wait, which starts
at ``FIRST_WAIT`` and doubles up to ``MAX_WAIT``:

* a call, until just before its deadline (``backoff.LAST_TRY``), or until
  routed when it has none; one never routed then times out waiting for its
  reply as before, the timeout diagnosis saying its queue does not exist;
* a cast, for ``CAST_WINDOW`` (``publish_timeout`` if shorter); one never
  routed is then dropped, as oslo.messaging drops it (it publishes casts
  without mandatory: the broker drops them silently), with one WARNING. Its
  exchange and routing key are remembered for ``REMEMBER`` seconds, and a
  cast to them returned meanwhile is dropped at once (logged at DEBUG), so
  that casts to a topic no server serves do not each wait out the window.

A routable request costs the mandatory flag only: the memory is consulted
after a return. A re-publish goes through the publisher and its one retry
path (``Link.ensure``) like the first publish: it is not a reconnect, the
broker answered cleanly. The request is the same (a call keeps its msg_id;
the servers' ``_unique_id`` dedup cannot drop it, no copy reached a queue).
"""
from __future__ import annotations

import time
from typing import Callable, Optional

from messaging import exceptions
from messaging.drivers.rabbit import backoff
from messaging.drivers.rabbit.expiring_set import ExpiringSet
from messaging import log_names

LOG = log_names.get_logger(__name__)

# Seconds before the first re-publish, doubled after each return up to
# MAX_WAIT: a queue deleted for a type change is back within ~10 ms, and a
# busy broker or server may take a few hundred.
FIRST_WAIT = 0.02
MAX_WAIT = 0.5
# Seconds a returned cast is published again: well past a redeclaration
# (12 ms measured, 100s of ms on a loaded broker), short enough that a cast
# to a topic nobody serves does not hold its caller long.
CAST_WINDOW = 1.0
# Seconds a routing key no cast could reach through a whole window is
# remembered, for this many keys at most.
REMEMBER = 60.0
REMEMBER_MAX = 1000


class Republisher:
    """Publishes calls and casts again while the broker returns them.

    :param cast_bound: the ``publish_timeout`` option: a cast's window is
        never longer.
    :param clock: ``time.monotonic`` (tests inject theirs, with ``sleep``).
    """

    def __init__(self, cast_bound: float, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.cast_window = min(CAST_WINDOW, cast_bound)
        self._clock = clock
        self._sleep = sleep
        #: (exchange, routing key) of casts dropped after a whole window.
        self.unroutable = ExpiringSet(REMEMBER, REMEMBER_MAX, clock)

    def call(self, publish: Callable[[], None], exchange: str, routing_key: str,
             deadline: Optional[float]) -> bool:
        """Run ``publish`` (mandatory) until the broker routes it, or until
        just before ``deadline`` (``time.monotonic()``; None: no end).

        :returns: whether it was routed; one that was not is the caller's
            to time out, as a request no server took.
        """
        if _routed(publish):
            return True
        until = None if deadline is None else deadline - backoff.LAST_TRY
        if self._again(publish, 'call', exchange, routing_key, until):
            return True
        LOG.debug('No queue took the call to %s/%s before its timeout', exchange, routing_key)
        return False

    def cast(self, publish: Callable[[], None], exchange: str, routing_key: str) -> bool:
        """Run ``publish`` (mandatory) until the broker routes it, for
        ``cast_window`` at most, or only once for a key remembered as
        unroutable; a cast never routed is dropped.

        :returns: whether it was routed.
        """
        if _routed(publish):
            return True
        key = (exchange, routing_key)
        if key in self.unroutable:
            LOG.debug('No server queue exists for routing key %s on exchange %s: cast '
                      'dropped', routing_key, exchange)
            return False
        if self._again(publish, 'cast', exchange, routing_key,
                       self._clock() + self.cast_window):
            return True
        # Another cast to the key may have given up meanwhile: one WARNING.
        if key not in self.unroutable:
            self.unroutable.add(key)
            LOG.warning('No server queue exists for routing key %(routing_key)s on '
                        'exchange %(exchange)s: a cast to it was dropped after being '
                        'published again for %(window)g s; casts to it are dropped at '
                        'once for the next %(remember)d s',
                        {'routing_key': routing_key, 'exchange': exchange,
                         'window': self.cast_window, 'remember': REMEMBER},
                        extra={'exchange': exchange, 'routing_key': routing_key})
        return False

    def _again(self, publish: Callable[[], None], kind: str, exchange: str,
               routing_key: str, until: Optional[float]) -> bool:
        """Publish again after each return, waiting ``FIRST_WAIT`` and
        doubling up to ``MAX_WAIT``, the last try at ``until`` (None: no
        end); whether the broker routed one."""
        LOG.debug('The broker returned a %s to %s/%s: no queue is bound for it; '
                  'publishing it again', kind, exchange, routing_key)
        wait = FIRST_WAIT
        while True:
            if until is not None:
                left = until - self._clock()
                if left <= 0:
                    return False
                wait = min(wait, left)
            self._sleep(wait)
            if _routed(publish):
                return True
            wait = min(wait * 2, MAX_WAIT)


def _routed(publish: Callable[[], None]) -> bool:
    """Run ``publish`` (mandatory); False when the broker returned it."""
    try:
        publish()
    except exceptions.MessageUndeliverable:
        return False
    return True
