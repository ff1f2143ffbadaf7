"""Publisher confirms of one connection, awaited against a deadline, and the
broker's ``connection.blocked`` state that explains a confirm that never came.

py-amqp's own confirm wait has no overall deadline (each frame received
restarts its timeout), so a broker that blocks publishers but still sends
heartbeats would hold it forever; the wait here ends at the publish's
deadline whatever arrives meanwhile.
"""
from __future__ import annotations

import socket
import time
from typing import Callable, Optional, Protocol

import amqp

from messaging import exceptions
from messaging.drivers.rabbit.engine import FrameEngine
from messaging.drivers.rabbit.errors import PublishTimeout, publish_timeout
from messaging import log_names

LOG = log_names.get_logger(__name__)


class ConfirmReader(Protocol):
    """What a confirm wait reads with: a ``link.Link``."""

    def publish_timeout(self, remaining: float, bound: float) -> None:
        """Bound the next read by ``remaining`` seconds of ``bound``."""

    def read_frames(self) -> None:
        """Read one frame, with the timeout just set."""


class PublishConfirms:
    """Counts the publishes on a channel and settles the one awaited.

    :param host: returns the current broker as ``host:port``, for messages.
    :param connection_name: the connection's name, for messages.
    :param engine: the link's frame engine, which hears the confirms.
    """

    def __init__(self, host: Callable[[], str], connection_name: str,
                 engine: FrameEngine) -> None:
        self._host = host
        self._engine = engine
        self._connection_name = connection_name
        # The delivery tag of the last publish on the channel, the one
        # awaited, and its outcome (True ack, False nack, None not yet).
        self._published = 0
        self._awaiting: Optional[int] = None
        self._confirmed: Optional[bool] = None
        self._timed_out = False
        self._blocked_reason: Optional[str] = None

    def new_channel(self, channel: Optional[amqp.Channel]) -> None:
        """Start over on a fresh channel (and socket): its delivery tags
        count from 1 and a new connection starts unblocked.

        :param channel: the new channel, put in confirm mode, its acks and
            nacks recorded here; None for a connection that does not
            publish with confirms.
        """
        if channel is not None:
            self._engine.register_confirms(channel, self._on_ack, self._on_nack)
            channel.confirm_select()
        self._published = 0
        self._blocked_reason = None

    @property
    def blocked_reason(self) -> Optional[str]:
        """The broker's reason while it blocks publishing, else None."""
        return self._blocked_reason

    @property
    def timed_out(self) -> bool:
        """Whether the publish last awaited was written and its confirm
        did not come by its deadline (unlike a write the broker did not
        read: a node that blocks us reads nothing, not even its own
        ``connection.blocked`` behind our stalled write)."""
        return self._timed_out

    def expect(self) -> None:
        """Await the confirm of the publish about to be written next."""
        self._published += 1
        self._awaiting, self._confirmed, self._timed_out = self._published, None, False

    def wait(self, link: ConfirmReader, deadline: float, bound: float) -> None:
        """Read frames until the broker acks or nacks the awaited publish.

        :param deadline: a ``time.monotonic()`` instant; the wait ends there.
        :param bound: the publish's whole timeout, of which ``deadline`` is
            the end (see ``Link.publish_timeout``).
        :raises socket.timeout: when ``deadline`` passes first.
        :raises MessageDeliveryFailure: when the broker nacks it.
        """
        try:
            while self._confirmed is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise socket.timeout('no publisher confirm')
                link.publish_timeout(remaining, bound)
                link.read_frames()
        except socket.timeout:
            self._timed_out = True
            raise
        if not self._confirmed:
            raise exceptions.MessageDeliveryFailure(
                'The broker %s refused (nacked) message %d on %s: it could not take it '
                '(e.g. a queue limit with overflow=reject-publish); see the broker log'
                % (self._host(), self._awaiting, self._connection_name))

    def timeout(self, what: str, bound: float) -> PublishTimeout:
        """The error for ``what`` not confirmed within ``bound`` seconds,
        naming the broker's alarm when it has blocked us."""
        return publish_timeout(what, self._host(), bound, self._blocked_reason)

    def _on_ack(self, delivery_tag: int, multiple: bool) -> None:
        self._settle(delivery_tag, multiple, True)

    def _on_nack(self, delivery_tag: int, multiple: bool) -> None:
        self._settle(delivery_tag, multiple, False)

    def _settle(self, delivery_tag: int, multiple: bool, ok: bool) -> None:
        awaiting = self._awaiting
        if awaiting is not None and (delivery_tag == awaiting
                                     or (multiple and delivery_tag >= awaiting)):
            self._confirmed = ok

    def on_blocked(self, reason: str) -> None:
        """py-amqp's callback for RabbitMQ's ``connection.blocked``."""
        self._blocked_reason = reason
        LOG.warning('Broker %s blocked publishing on %s (%s): publishes wait until it '
                    'unblocks, up to their timeout. RabbitMQ blocks publishers during a '
                    'memory or disk alarm; check the broker\'s memory and disk',
                    self._host(), self._connection_name, reason)

    def on_unblocked(self) -> None:
        """py-amqp's callback for RabbitMQ's ``connection.unblocked``."""
        self._blocked_reason = None
        LOG.warning('Broker %s unblocked publishing on %s: publishing resumes',
                    self._host(), self._connection_name)
