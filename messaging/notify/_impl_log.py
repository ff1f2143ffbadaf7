"""The ``log`` notification driver: writes notifications to Python logging.

Each notification goes to the logger ``oslo.messaging.notification.<event_type>``
(the name oslo.messaging uses, so existing logging configurations keep
working) at the level named by its priority, as JSON with passwords masked.
AUDIT and SAMPLE have no logging level: like oslo.messaging, the driver
emits a ``UserWarning`` for them instead of logging.
"""
from __future__ import annotations

import logging
import warnings
from typing import Optional

from oslo_serialization import jsonutils
from oslo_utils import strutils

from messaging.notify import notifier
from messaging import log_names

LOG = log_names.get_logger(__name__)

LOGGER_BASE = 'oslo.messaging.notification'

_LEVELS = {'debug': logging.DEBUG, 'info': logging.INFO, 'warn': logging.WARNING,
           'warning': logging.WARNING, 'error': logging.ERROR,
           'critical': logging.CRITICAL}


class LogDriver(notifier.Driver):
    """Logs each notification at its priority's level."""

    LOGGER_BASE = LOGGER_BASE

    def notify(self, ctxt: dict, message: dict, priority: str,
               retry: Optional[int]) -> None:
        """Log ``message`` as JSON on the event type's logger."""
        level = _LEVELS.get(priority.lower())
        if level is None:
            # oslo.messaging's words, which services' tests may match.
            warnings.warn('Unable to log message as notify cannot find a logger with '
                          'the priority specified %s' % priority.lower(), stacklevel=2)
            return
        logger = logging.getLogger('%s.%s' % (self.LOGGER_BASE, message.get('event_type')))
        if logger.isEnabledFor(level):
            logger.log(level, jsonutils.dumps(strutils.mask_dict_password(message)))
