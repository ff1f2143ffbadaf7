"""Publishing RPC replies, and giving up on reply queues that are gone.

A reply goes to the default exchange with the caller's ``_reply_q`` as the
routing key, mandatory, so that a caller that went away is noticed (the
broker returns the message) instead of the reply vanishing (WIRE.md §5.3).
"""
from __future__ import annotations

import time
from typing import Any, Callable, Optional

from messaging import exceptions
from messaging import wire
from messaging.drivers.rabbit.expiring_set import ExpiringSet
from messaging import log_names

LOG = log_names.get_logger(__name__)

# oslo's values: a returned reply is retried this often, and a queue given up
# on is remembered this long, for this many queues at most.
RETRY_INTERVAL = 0.25
OBSOLETE_TTL = 60.0
OBSOLETE_MAX = 200


class ReplySender:
    """Sends replies and heartbeats through pooled send connections.

    :param borrow: returns a ``ConnectionContext`` on a send connection.
    :param missing_queue_timeout: seconds to retry a returned reply.
    """

    def __init__(self, borrow: Callable[[], Any], mandatory: bool,
                 missing_queue_timeout: float) -> None:
        self._borrow = borrow
        self._mandatory = mandatory
        self._timeout = missing_queue_timeout
        #: Reply queues recently found missing; replies to them are dropped.
        self.obsolete = ExpiringSet(OBSOLETE_TTL, OBSOLETE_MAX)

    def send(self, reply_q: str, msg_id: str, result: Any = None,
             failure: Optional[BaseException] = None, ending: bool = True) -> None:
        """Publish one reply (``ending=False``: a call-monitor heartbeat)."""
        if reply_q in self.obsolete:
            _log_dropped(reply_q, msg_id)
            return
        body = wire.serialize_msg({
            'result': result,
            'failure': wire.serialize_remote_exception(failure) if failure else None,
            'ending': ending,
            '_msg_id': msg_id,
            '_unique_id': wire.unique_id(),
        })
        started = time.monotonic()
        tries = 0
        while True:
            tries += 1
            try:
                with self._borrow() as connection:
                    connection.publish(None, reply_q, body, mandatory=self._mandatory)
                return
            except exceptions.MessageUndeliverable:
                elapsed = time.monotonic() - started
                if elapsed >= self._timeout:
                    # oslo.messaging's lines, in its order.
                    self.obsolete.add(reply_q)
                    _log_dropped(reply_q, msg_id)
                    LOG.error('The reply %(msg_id)s failed to send after %(duration)d '
                              'seconds due to a missing queue (%(reply_q)s). Abandoning...',
                              {'msg_id': msg_id, 'duration': self._timeout,
                               'reply_q': reply_q},
                              extra={'tries': tries, 'elapsed': round(elapsed, 3)})
                    return
                LOG.debug('Reply queue %s is missing; retrying the reply to %s',
                          reply_q, msg_id)
                time.sleep(RETRY_INTERVAL)


def _log_dropped(reply_q: str, msg_id: str) -> None:
    LOG.warning("%(reply_queue)s doesn't exist, drop reply to %(msg_id)s",
                {'reply_queue': reply_q, 'msg_id': msg_id})
