"""Where one server stands in the stream of its topic's fanouts
(``rabbit_stream_fanout``).

With stream fanout every server of a topic reads the one ``<topic>_fanout``
stream; the broker keeps the messages (for ``rabbit_transient_queues_ttl``)
and each consumer says where to start with the ``x-stream-offset``
consumer argument. A :class:`StreamCursor` gives that argument each time
the consumer is declared:

- ``next`` at first: a new server gets what is published from now on, never
  the stream's history;
- after each delivery the server handled, that delivery's offset + 1: a
  server that reconnects resumes right after the last fanout it handled,
  and one it received but had not handled yet (lost with the old channel)
  comes again, so none is lost and none handled twice;
- ``next`` again when the broker cancels the consumer (the stream was
  deleted): the stream declared anew starts its offsets over, and the
  server reads it from its tail.
"""
from __future__ import annotations

from typing import Any, Union

from messaging import log_names

LOG = log_names.get_logger(__name__)

OFFSET_ARGUMENT = 'x-stream-offset'
# Only what is published after the consumer attaches.
FROM_TAIL = 'next'


class StreamCursor:
    """The offset from which one server reads the stream ``queue``."""

    def __init__(self, queue: str) -> None:
        self.queue = queue
        self.next_offset: Union[int, str] = FROM_TAIL

    def consumer_arguments(self) -> dict:
        """The consumer's arguments for its next ``basic.consume``."""
        LOG.info('Consuming stream %s from offset %s', self.queue, self.next_offset)
        return {OFFSET_ARGUMENT: self.next_offset}

    def handled(self, raw: Any) -> None:
        """Move past the delivery ``raw``, which the server has taken.

        Never back: the threads handling a pushing server's deliveries may
        take them out of order.
        """
        headers = raw.properties.get('application_headers') or {}
        offset = headers.get(OFFSET_ARGUMENT)
        if isinstance(offset, int) and not (isinstance(self.next_offset, int)
                                            and offset < self.next_offset):
            self.next_offset = offset + 1

    def cancelled(self) -> None:
        """The broker cancelled the consumer (the stream was deleted): it
        is consumed again (``ConsumerSet``), from the tail of the stream
        declared anew, whose offsets start over."""
        LOG.warning('The broker cancelled our consumer of stream %s (deleted?); it is '
                    'declared again and read from its tail (was at offset %s)',
                    self.queue, self.next_offset)
        self.next_offset = FROM_TAIL
