"""Why a call timed out, where the broker can tell.

oslo.messaging says only "Timed out waiting for a reply". When a call times
out, the driver asks the broker about the request's queue and the reply
queue (two passive declares on a pooled connection, bounded by
``DIAGNOSIS_BOUND``) and the ``MessagingTimeout`` says which case it was:

* the reply queue itself was lost: the reply had nowhere to go (found
  missing now, or lost and declared again during the call);
* the request's queue does not exist: no server of that topic (or server
  name) has ever listened, or its queue was deleted;
* the queue has no consumer: every server of the topic is down;
* the queue still holds messages: the request may be waiting behind them
  (the servers are slow or busy);
* the queue is empty and consumed: a server took the request but no reply
  came in time (it is slow, died while handling it, or its reply could not
  be routed back).

The broker's answer is a snapshot taken at the timeout, so each case is
worded as what the broker showed, not as a verdict.
"""
from __future__ import annotations

import time
from typing import Any, Callable, Optional

from messaging import log_names

LOG = log_names.get_logger(__name__)

# Seconds the diagnosis may add to a timed-out call (a live broker answers
# both questions in about a millisecond).
DIAGNOSIS_BOUND = 1.0


def explain(borrow: Callable[[float], Any], request_queue: str, reply_queue: str,
            reply_queue_redeclared: bool = False) -> str:
    """What the broker shows about a timed-out call, as one clause; empty
    when the broker could not be asked in time.

    :param borrow: lends a send connection within the given seconds (a
        ``ConnectionContext`` factory).
    :param request_queue: the queue the request was routed to (the topic,
        or ``topic.server``).
    :param reply_queue_redeclared: the reply queue was declared again
        during the call (after a reconnect, or the broker cancelling its
        consumer: the queue lost).
    """
    if reply_queue_redeclared:
        return ('the reply queue %s was lost during the call and declared again: a '
                'reply sent meanwhile was dropped' % reply_queue)
    deadline = time.monotonic() + DIAGNOSIS_BOUND
    try:
        with borrow(DIAGNOSIS_BOUND) as connection:
            if connection.queue_state(reply_queue, deadline) is None:
                return ('the reply queue %s was lost (deleted, or gone with a broker node), '
                        'so the reply had nowhere to go' % reply_queue)
            state = connection.queue_state(request_queue, deadline)
    except Exception as ex:  # the timeout is what the caller must hear of
        LOG.debug('Could not ask the broker why a call timed out: %s', ex)
        return ''
    return _describe(request_queue, state)


def _describe(queue: str, state: Optional[tuple[int, int]]) -> str:
    if state is None:
        return ('queue %s does not exist: no server of that topic (or server name) '
                'has listened on it' % queue)
    messages, consumers = state
    if not consumers:
        return ('no server consumes queue %s (%d message(s) wait in it): every server '
                'of the topic is down' % (queue, messages))
    if messages:
        return ('the request may still be queued: queue %s holds %d message(s) for %d '
                'server consumer(s), which are slow or busy' % (queue, messages, consumers))
    return ('a server took the request (queue %s is empty, %d consumer(s)) but no reply '
            'came in time: it is slow, died handling it, or its reply could not be '
            'routed back' % (queue, consumers))
