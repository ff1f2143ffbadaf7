"""The notification subcommands: ``notify`` and ``listen`` (a ``tail -f`` for a bus)."""
from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import uuid
from typing import Optional

from oslo_config import cfg

import messaging
import messaging.notify
from messaging.cli.arguments import count, json_object, positive_seconds, regex, retry_count
from messaging.cli.output import EXIT_OK, CommandError, describe_error, print_json
from messaging.cli.rpc_commands import CONNECT_HELP, RETRY_HELP, check_broker, connect_to_run
from messaging import log_names

LOG = log_names.get_logger(__name__)

PRIORITIES = ('audit', 'debug', 'info', 'warn', 'error', 'critical', 'sample')
# What --priority takes, here as in notify: "warning" is "warn".
PRIORITY_CHOICES = PRIORITIES + ('warning',)


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Register the notification subcommands on the top-level parser."""
    notify = sub.add_parser('notify', help='send one notification')
    notify.add_argument('event_type')
    notify.add_argument('--priority', default='info', choices=PRIORITY_CHOICES,
                        help='the priority (default info; warning is warn)')
    notify.add_argument('--payload', type=json_object, default={},
                        help='the payload as a JSON object')
    notify.add_argument('--context', type=json_object, default={},
                        help='the request context as a JSON object; listeners get '
                             'it as given, less %s (a notification carries no '
                             'tokens)' % ' and '.join(NotificationContext.REDACTED))
    notify.add_argument('--publisher-id', default='messaging-cli',
                        help='who the notification says sent it (default messaging-cli)')
    notify.add_argument('--retry', type=retry_count, default=2, help=RETRY_HELP)
    notify.add_argument('--topic', action='append', dest='topics',
                        help='notification topic (repeatable; default: the '
                             'configured topics, normally "notifications")')
    notify.add_argument('--exchange', help='the exchange (default: control_exchange)')
    notify.add_argument('--driver', default='messagingv2',
                        choices=('messaging', 'messagingv2', 'log'),
                        help='format to send in (default messagingv2)')
    notify.set_defaults(run=_run_notify)

    listen = sub.add_parser(
        'listen', help='print notifications as JSON lines until interrupted; uses '
                       'a private pool queue, so it takes nothing from other consumers')
    listen.add_argument('--topic', action='append', dest='topics',
                        help='topic to listen on (repeatable; default notifications)')
    listen.add_argument('--exchange', help='the exchange (default: control_exchange)')
    listen.add_argument('--priority', action='append', dest='priorities',
                        choices=PRIORITY_CHOICES,
                        help='a priority to show (repeatable; default: all; warning '
                             'is warn)')
    listen.add_argument('--event-type', metavar='REGEX', type=regex,
                        help='only events whose type matches (re.match)')
    listen.add_argument('--publisher', metavar='REGEX', type=regex,
                        help='only events whose publisher_id matches (re.match)')
    listen.add_argument('--pool', help='join this listener pool instead of a private '
                                       'one (shares, and so takes, its messages)')
    listen.add_argument('--count', type=count, default=0,
                        help='exit after this many notifications (default: never)')
    listen.add_argument('--connect-timeout', type=positive_seconds, default=10.0,
                        help=CONNECT_HELP)
    listen.set_defaults(run=_run_listen)


def _priority(name: str) -> str:
    """A priority as the command line gives it, as the notifier names it."""
    return 'warn' if name == 'warning' else name


def _run_notify(conf: cfg.ConfigOpts, args: argparse.Namespace) -> int:
    if args.exchange:
        conf.set_override('control_exchange', args.exchange)
    if args.driver != 'log':
        check_broker(conf, notifications=True)
    transport = messaging.get_notification_transport(conf)
    try:
        notifier = messaging.Notifier(transport, publisher_id=args.publisher_id,
                                      driver=args.driver,
                                      topics=args.topics or None, retry=args.retry)
        if not notifier._drivers:
            raise CommandError('notification driver %s could not be loaded; nothing was '
                               'sent (--debug tells why)' % args.driver)
        # Notifier's public methods swallow send errors (as oslo's do) and
        # log them; the command must not claim a notification it could not
        # deliver, and says why in its one line.
        with _NotifierFailures() as failures:
            delivered = notifier._notify(NotificationContext(args.context),
                                         args.event_type, args.payload,
                                         _priority(args.priority).upper())
    finally:
        transport.cleanup()
    if not delivered:
        raise CommandError('the notification was not delivered: %s'
                           % (failures.cause or 'the driver refused it'))
    print_json({'sent': args.event_type, 'priority': args.priority})
    return EXIT_OK


class NotificationContext(dict):
    """The ``--context`` of ``notify``, as a request context object.

    A notifier sends no plain dict as the context (oslo.messaging drops it
    too) but a redacted copy of a context object: this one is the JSON
    given, less the tokens a request context's redacted copy leaves out.
    """

    REDACTED = ('auth_token', 'service_token')

    def redacted_copy(self) -> 'NotificationContext':
        """A copy without the tokens, what a notification may carry."""
        return NotificationContext((key, value) for key, value in self.items()
                                   if key not in self.REDACTED)


class _NotifierFailures(logging.Handler):
    """Keeps the cause of the notifier's send failures while installed on
    the loggers of ``messaging.notify`` (the notifier's and its drivers'):
    the error they log, without the traceback."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.cause: Optional[str] = None
        self._logger = logging.getLogger(messaging.notify.__name__)

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            self.cause = describe_error(error)

    def __enter__(self) -> '_NotifierFailures':
        self._saved = (self._logger.level, self._logger.propagate)
        if not self._logger.isEnabledFor(logging.ERROR):
            # The command is quiet (no --debug): hear the error, show nothing.
            self._logger.setLevel(logging.ERROR)
            self._logger.propagate = False
        self._logger.addHandler(self)
        return self

    def __exit__(self, *exc_info) -> None:
        self._logger.removeHandler(self)
        self._logger.setLevel(self._saved[0])
        self._logger.propagate = self._saved[1]


class _PrintingEndpoint:
    """Prints every notification it gets as one JSON line."""

    def __init__(self, priorities: tuple, done: threading.Event, count: int,
                 filter_rule) -> None:
        self.filter_rule = filter_rule
        self._done = done
        self._left = count
        self._lock = threading.Lock()
        for priority in priorities:
            setattr(self, priority, self._printer(priority))

    def _printer(self, priority: str):
        def show(ctxt, publisher_id, event_type, payload, metadata):
            with self._lock:
                print_json({'priority': priority, 'event_type': event_type,
                            'publisher_id': publisher_id, 'payload': payload,
                            'metadata': metadata, 'context': sender_context(ctxt)})
                if self._left:
                    self._left -= 1
                    if not self._left:
                        self._done.set()
        return show


# What a listener's context holds besides the sender's: the fields of the
# RPC envelope (None in a notification), not part of what was sent.
ENVELOPE_KEYS = ('client_timeout', 'msg_id', 'reply_q')


def sender_context(ctxt: dict) -> dict:
    """The context as the sender gave it, without the envelope's fields."""
    return {key: value for key, value in ctxt.items() if key not in ENVELOPE_KEYS}


def _run_listen(conf: cfg.ConfigOpts, args: argparse.Namespace) -> int:
    check_broker(conf, notifications=True, timeout=args.connect_timeout)
    transport = messaging.get_notification_transport(conf)
    pool = args.pool or 'messaging-listen-%s' % uuid.uuid4().hex[:12]
    topics = args.topics or ['notifications']
    targets = [messaging.Target(topic=topic, exchange=args.exchange) for topic in topics]
    done = threading.Event()
    rule = None
    if args.event_type or args.publisher:
        rule = messaging.NotificationFilter(event_type=args.event_type,
                                            publisher_id=args.publisher)
    priorities = tuple(dict.fromkeys(_priority(name) for name in args.priorities or
                                     PRIORITIES))
    endpoint = _PrintingEndpoint(priorities, done, args.count, rule)
    listener = messaging.get_notification_listener(transport, targets, [endpoint],
                                                   pool=pool)
    connect_to_run(transport, args.connect_timeout)
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: done.set())
    listener.start()
    sys.stderr.write('messaging listen: listening on %s (pool %s)\n'
                     % (', '.join(topics), pool))
    sys.stderr.flush()
    try:
        done.wait()
    finally:
        listener.stop()
        listener.wait()
        if not args.pool:
            _delete_private_pool(transport, pool)
        transport.cleanup()
    return EXIT_OK


def _delete_private_pool(transport, pool: str) -> None:
    """Remove the private pool queue so it does not fill up after we exit."""
    try:
        transport.admin.delete_queue(pool)
    except Exception as ex:
        LOG.warning('Could not delete the private listener queue %s (%s); delete it '
                    'by hand: rabbitmqctl delete_queue %s', pool, ex, pool)
