"""What the ``messaging`` command tells its user: exit statuses, JSON on
stdout, and each failure as one line that names the cause.
"""
from __future__ import annotations

import json
import logging
import sys
from typing import Any

from messaging import exceptions
from messaging.cli.config import ConfigurationError
from messaging.drivers.rabbit.errors import BrokerRefusal, BrokerUnreachable, PublishTimeout
from messaging.drivers.rabbit.queue_retirement import QueueNotRetired
from messaging.transport import DriverLoadFailure, InvalidTransportURL

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
# What a shell reports for a command ended by Ctrl-C (128 + SIGINT).
EXIT_INTERRUPTED = 130

# Schemes other tools use for AMQP over TLS, which oslo.messaging's URLs
# spell as rabbit://...?ssl=1.
TLS_SCHEMES = ('rabbits', 'amqps')


class CommandError(Exception):
    """A failure to report as one line, without a traceback."""


def print_json(value: Any) -> None:
    """One JSON document per line on stdout, flushed for pipes."""
    sys.stdout.write(json.dumps(value, default=str, sort_keys=True) + '\n')
    sys.stdout.flush()


def log_while_running() -> None:
    """Log warnings from now on: a server or listener, started, tells what
    befalls it (reconnects, dropped messages) until it is stopped."""
    root = logging.getLogger()
    if root.level > logging.WARNING:
        root.setLevel(logging.WARNING)


def describe_error(ex: BaseException) -> str:
    """One line that names the failure and, where known, what to do."""
    text = str(ex).splitlines()[0] if str(ex) else type(ex).__name__
    if isinstance(ex, PublishTimeout):
        # The request never got to the broker: no server is to blame.
        return 'timed out: %s' % text
    if isinstance(ex, exceptions.MessagingTimeout):
        return ('timed out: %s (is a server listening on that topic? raise '
                '--timeout for slow methods)' % text)
    if isinstance(ex, DriverLoadFailure) and ex.driver in TLS_SCHEMES:
        return ('%s (TLS to RabbitMQ is rabbit://...?ssl=1, or ssl = true in '
                '[oslo_messaging_rabbit])' % text)
    if isinstance(ex, (InvalidTransportURL, DriverLoadFailure, CommandError,
                       ConfigurationError, BrokerRefusal, BrokerUnreachable,
                       QueueNotRetired)):
        return text
    if isinstance(ex, exceptions.MessageDeliveryFailure):
        return 'cannot reach the broker: %s' % text
    return '%s: %s' % (type(ex).__name__, text)

