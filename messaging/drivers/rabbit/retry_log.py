"""What the retry path (``Link.ensure``, link.py) logs: a refusal, a retry
and a recovery, in oslo.messaging's words.

The texts and levels are oslo.messaging 18.3.1's (``impl_rabbit``'s
``ensure_connection`` for a first connect, ``ensure`` for a reconnect):
tests/inplace/test_inplace_logs.py compares them. What we add goes in the
record's attributes (``extra``): ``operation``, ``attempt``,
``connection_name``, ``broker``, and for a retry ``next_broker`` and
``error_type``.
"""
from __future__ import annotations

from typing import Any, Optional

from messaging.drivers.rabbit.errors import BrokerRefusal
from messaging import log_names

LOG = log_names.get_logger(__name__)


class RetryLog:
    """The retry path's log lines of one connection.

    :param name: the connection's name (``<program>:<pid>:<uuid>``).
    :param connection_id: the id oslo.messaging's lines show in brackets.
    """

    def __init__(self, name: str, connection_id: str) -> None:
        self._name = name
        self._connection_id = connection_id

    def _context(self, what: str, attempt: int, host: str) -> dict:
        """What our log lines add, as record attributes (``extra``)."""
        return {'operation': what, 'attempt': attempt, 'connection_name': self._name,
                'broker': host}

    def refused(self, error: BrokerRefusal, delay: Optional[float] = None,
                attempt: int = 0) -> None:
        """The broker refused what no retry mends: raised at once (no
        ``delay``), or tried again after ``delay`` by a server's consumers."""
        if delay is None:
            LOG.error('%s', error)
        else:
            LOG.error('%s; %s tries again in %.1f s (attempt %d)', error, self._name, delay,
                      attempt)

    def retrying(self, ex: Exception, what: str, attempt: int, reconnecting: bool,
                 failed_host: str, next_host: str, delay: float) -> None:
        """Attempt ``attempt`` at ``what`` failed on ``failed_host`` with
        ``ex``; the next goes to ``next_host`` in ``delay`` seconds."""
        extra = dict(self._context(what, attempt, failed_host), next_broker=next_host,
                     error_type=type(ex).__name__)
        if not reconnecting:
            LOG.error('Connection failed: %s (retrying in %s seconds)', str(ex), delay,
                      extra=extra)
            return
        hostname, _, port = failed_host.rpartition(':')
        info = {'connection_id': self._connection_id, 'hostname': hostname, 'port': port,
                'err_str': ex, 'sleep_time': delay}
        if 'Socket closed' in str(ex):
            LOG.error('[%(connection_id)s] AMQP server %(hostname)s:%(port)s closed the '
                      'connection. Check login credentials: %(err_str)s', info, extra=extra)
        else:
            LOG.error('[%(connection_id)s] AMQP server on %(hostname)s:%(port)s is '
                      'unreachable: %(err_str)s. Trying again in %(sleep_time)d seconds.',
                      info, extra=extra)

    def recovered(self, what: str, attempt: int, reconnecting: bool, host: str,
                  transport: object, channel: Any) -> None:
        """``what`` succeeded on ``host`` after ``attempt`` failed attempts.

        :param transport: kombu's transport class, as oslo.messaging shows it.
        :param channel: the new channel, whose socket's port the line shows.
        """
        extra = self._context(what, attempt, host)
        if not reconnecting:
            # oslo.messaging says nothing when a first connect succeeds.
            LOG.debug('Connected %s to %s after %d failed attempt(s)', self._name, host,
                      attempt, extra=extra)
            return
        hostname, _, port = host.rpartition(':')
        try:
            client_port = channel.connection.sock.getsockname()[1]
        except (AttributeError, OSError):
            client_port = None
        LOG.info('[%(connection_id)s] Reconnected to AMQP server on %(hostname)s:%(port)s '
                 'via [%(transport)s] client with port %(client_port)s.',
                 {'connection_id': self._connection_id, 'hostname': hostname, 'port': port,
                  'transport': transport, 'client_port': client_port},
                 extra=extra)
