"""Publishing on a link: a message encoded once, its exchange or queue
declared once per channel, written, and (on a send connection) confirmed
by the broker within a bound, a mandatory message's return noticed.
"""
from __future__ import annotations

import socket
import time
from typing import Any, Optional

import amqp

from messaging import exceptions
from messaging.drivers.rabbit import codec
from messaging.drivers.rabbit.declarations import ExchangeSpec, QueueSpec
from messaging.drivers.rabbit.errors import PublishTimeout
from messaging.drivers.rabbit.link import Link
from messaging import log_names

LOG = log_names.get_logger(__name__)


class Publisher:
    """Publishes on ``link`` with the WIRE.md properties.

    :param codec_: encodes bodies (compression, size limit).
    :param publish_timeout: the ``publish_timeout`` option: the bound of
        a publish that is not a call's.
    """

    def __init__(self, link: Link, codec_: codec.Codec, publish_timeout: float) -> None:
        self._link = link
        self._codec = codec_
        self._publish_timeout = publish_timeout
        self._engine = link.engine
        # The last message the broker returned (no route), on this channel.
        self._returned: Optional[tuple] = None
        link.add_channel_user(self)

    def channel_opened(self, channel: amqp.Channel) -> None:
        """Hear of the messages the new channel's broker returns."""
        channel.events['basic_return'].add(self._on_return)

    def _on_return(self, exc: Exception, exchange: str, routing_key: str,
                   message: Any) -> None:
        self._returned = (exc, exchange, routing_key, message)

    def publish(self, exchange: Optional[ExchangeSpec], routing_key: str, body: dict,
                expiration: Optional[float] = None, mandatory: bool = False,
                retry: Optional[int] = None, declare: Optional[QueueSpec] = None,
                deadline: Optional[float] = None) -> None:
        """Publish ``body`` (a JSON-able dict) with the WIRE.md properties.

        On a send connection, returns once the broker confirmed the message.
        The wait (declarations, writes, confirm) is bounded by ``expiration``
        for a call and by the ``publish_timeout`` option otherwise, so that
        a broker blocking publishers (memory or disk alarm) cannot hang us.

        :param exchange: declared once per channel; None = default exchange.
        :param expiration: seconds, only for call requests (its timeout).
        :param declare: a queue to declare (once per channel) first.
        :param deadline: ``time.monotonic()`` instant a call's publish must
            end by (default: ``expiration`` seconds from now).
        :raises MessageUndeliverable: a mandatory message had no route.
        :raises PublishTimeout: the broker did not confirm it in time.
        """
        data, headers = self._codec.encode(body)
        engine = self._engine
        # Encoded once, not again on each retry.
        properties = engine.encode_properties({
            'content_type': codec.CONTENT_TYPE, 'content_encoding': codec.CONTENT_ENCODING,
            'application_headers': headers, 'delivery_mode': 2, 'priority': 0,
            'expiration': None if expiration is None else str(int(expiration * 1000))})
        exchange_name = exchange.name if exchange is not None else ''
        what = 'publish to %s/%s' % (exchange_name or '<default>', routing_key)
        bound = expiration if expiration is not None else self._publish_timeout
        if deadline is None:
            deadline = time.monotonic() + bound
        link = self._link
        confirms = link.confirms

        def _publish(channel: amqp.Channel) -> None:
            try:
                with link.writing():
                    # A blocked broker reads nothing, not even declarations.
                    link.publish_timeout(deadline - time.monotonic(), bound)
                    if exchange is not None:
                        link.declarer.exchange(channel, exchange)
                    if declare is not None:
                        link.declarer.queue(channel, declare, once=True)
                    self._returned = None
                    if link.confirm:
                        confirms.expect()
                    engine.publish(channel, exchange_name, routing_key, data, properties,
                                   mandatory)
                # Without the write lock: heartbeats go on while we wait.
                if link.confirm:
                    confirms.wait(link, deadline, bound)
            except socket.timeout as ex:
                raise confirms.timeout(what, bound) from ex
            except amqp.exceptions.RecoverableConnectionError as ex:
                # py-amqp's word for a write that timed out: a broker not
                # reading (blocked) would fail every retry the same way.
                if 'timed out' not in str(ex):
                    raise
                raise confirms.timeout(what, bound) from ex
            returned, self._returned = self._returned, None
            if returned is not None:
                raise exceptions.MessageUndeliverable(*returned)

        try:
            link.ensure(_publish, retry, what, writes=False,
                        deadline=deadline if expiration is not None else None)
        except PublishTimeout as ex:
            LOG.error('%s', ex)
            raise
