"""``messaging-send-notification``: send one notification from the shell.

Example::

    messaging-send-notification --transport-url rabbit://guest:guest@localhost:5672/ \\
        --event-type compute.instance.create.end --priority info \\
        --payload '{"instance_id": "abc"}'

Exit status: 0 when sent, 1 when the driver could not be loaded or failed to
send it (the error is logged), 2 for bad arguments (invalid JSON payload, transport URL, config
file).
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import Optional

from oslo_config import cfg
from stevedore import extension

from messaging import exceptions
from messaging import transport as msg_transport
from messaging.notify import dispatcher
from messaging.notify import notifier as msg_notifier
from messaging import log_names

LOG = log_names.get_logger(__name__)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog='messaging-send-notification',
        description='Send one notification through messaging (oslo.messaging compatible).')
    parser.add_argument('--config-file', help='a configuration file to read options from')
    parser.add_argument('--transport-url',
                        help='the transport URL (default: from the configuration)')
    parser.add_argument('--publisher-id', help='the publisher, e.g. compute.host1')
    parser.add_argument('--event-type', default='test', help='the event type (default: test)')
    parser.add_argument('--topic', action='append',
                        help='a topic to send to; repeat for several '
                             '(default: the configured topics)')
    parser.add_argument('--priority', default='info', choices=dispatcher.PRIORITIES,
                        help='the priority (default: info)')
    parser.add_argument('--payload', default='{}', help='the payload, as JSON (default: {})')
    parser.add_argument('--driver', default='messagingv2',
                        choices=sorted(extension.ExtensionManager(
                            msg_notifier.DRIVER_NAMESPACE).names()),
                        help='the notification driver (default: messagingv2)')
    parser.add_argument('--retry', type=int,
                        help='connection retries: -1 forever, 0 none '
                             '(default: the configured retry)')
    return parser


def main(argv: Optional[list[str]] = None) -> int:
    """Parse ``argv``, send the notification and return the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        payload = json.loads(args.payload)
    except ValueError as ex:
        parser.error('--payload is not valid JSON: %s' % ex)
    conf = cfg.ConfigOpts()
    try:
        conf([], project='messaging',
             default_config_files=[args.config_file] if args.config_file else [])
        transport = msg_transport.get_notification_transport(conf, url=args.transport_url)
    except (cfg.Error, exceptions.MessagingException, ImportError) as ex:
        parser.error(str(ex))
    # Configured only now, so that argument errors stay a single line; the
    # log driver and send failures report through logging.
    logging.basicConfig(level=logging.INFO, format='%(levelname)s %(name)s: %(message)s')
    try:
        notifier = msg_notifier.Notifier(transport, args.publisher_id, driver=args.driver,
                                         topics=args.topic, retry=args.retry)
        # A driver that failed to load delivers nothing: not "sent".
        sent = notifier._notify(
            {}, args.event_type, payload, args.priority.upper())
    finally:
        transport.cleanup()
    if not sent:
        print('messaging-send-notification: error: the notification was not sent '
              '(see the log above)', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
