"""Argument parsing, configuration and error reporting for the ``messaging`` command.

Each subcommand lives in its own module; this one builds the parser, loads
the configuration, runs the subcommand and turns any failure into one clear
line on stderr (with ``--debug`` for the traceback) and a non-zero exit.
"""
from __future__ import annotations

import argparse
import json
import logging
import re
import sys
from typing import Any, Optional

from oslo_config import cfg

from messaging.cli.config import ConfigurationError, load_config
from messaging import log_names

LOG = log_names.get_logger(__name__)

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


def positive_seconds(text: str) -> float:
    """A number of seconds above zero (a timeout of 0 would end at once)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError('not a number of seconds: %r' % text) from None
    if not value > 0:
        raise argparse.ArgumentTypeError('must be more than 0 seconds, got %s' % text)
    return value


def retry_count(text: str) -> int:
    """A ``--retry`` value: retries after the first try; -1 for no limit."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError('not a whole number: %r' % text) from None
    if value < -1:
        raise argparse.ArgumentTypeError('must be -1 (no limit) or more, got %s' % text)
    return value


def count(text: str) -> int:
    """A whole number of things, 0 or more."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError('not a whole number: %r' % text) from None
    if value < 0:
        raise argparse.ArgumentTypeError('must be 0 or more, got %s' % text)
    return value


def regex(text: str) -> str:
    """A regular expression that compiles (kept as text, as filters take it)."""
    try:
        re.compile(text)
    except re.error as ex:
        raise argparse.ArgumentTypeError('not a valid regular expression (%s): %s'
                                         % (ex, text)) from None
    return text


def json_object(text: str) -> dict:
    """Parse a JSON object given on the command line."""
    try:
        value = json.loads(text)
    except ValueError as ex:
        raise argparse.ArgumentTypeError('not valid JSON (%s): %s' % (ex, text))
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError('expected a JSON object, got: %s' % text)
    return value


def key_value(text: str) -> tuple[str, Any]:
    """``k=v``; ``v`` is read as JSON when it parses, else kept as a string."""
    key, sep, raw = text.partition('=')
    if not sep or not key:
        raise argparse.ArgumentTypeError('expected key=value, got: %s' % text)
    try:
        return key, json.loads(raw)
    except ValueError:
        return key, raw


def print_json(value: Any) -> None:
    """One JSON document per line on stdout, flushed for pipes."""
    sys.stdout.write(json.dumps(value, default=str, sort_keys=True) + '\n')
    sys.stdout.flush()


def build_parser() -> argparse.ArgumentParser:
    from messaging.cli import notify_commands, rpc_commands

    parser = argparse.ArgumentParser(
        prog='messaging',
        description='Call, cast, ping, notify, listen and serve over a messaging '
                    'transport (RabbitMQ or in-memory).')
    _add_common_options(parser)
    sub = parser.add_subparsers(dest='command', metavar='COMMAND')
    sub.required = True
    rpc_commands.add_parsers(sub)
    notify_commands.add_parsers(sub)
    for command in sub.choices.values():
        _add_common_options(command, after_command=True)
    # add_help=False: everything after "bench", --help included, is the
    # benchmark's own command line.
    bench = sub.add_parser('bench', add_help=False,
                           help='run the benchmark (see "messaging bench --help")')
    bench.set_defaults(run=_run_bench)
    return parser


def _add_common_options(parser: argparse.ArgumentParser,
                        after_command: bool = False) -> None:
    """--transport-url, --config-file and --debug, taken before the
    subcommand and (``after_command``) after it.

    Given after it, they are kept apart (``late_*``, absent unless given):
    argparse would otherwise let the subcommand's defaults overwrite what
    was given before it. parse_args merges the two.
    """
    prefix = 'late_' if after_command else ''
    parser.add_argument('--transport-url', metavar='URL', dest=prefix + 'transport_url',
                        default=argparse.SUPPRESS if after_command else None,
                        help='transport URL, e.g. rabbit://user:pass@host:5672/ '
                             '(default: transport_url from --config-file, else '
                             'rabbit://, the local broker)')
    parser.add_argument('--config-file', metavar='PATH', action='append',
                        dest=prefix + 'config_file', type=readable_file,
                        default=argparse.SUPPRESS if after_command else [],
                        help='oslo.config file(s) to read options from (repeatable)')
    parser.add_argument('--debug', action='store_true', dest=prefix + 'debug',
                        default=argparse.SUPPRESS if after_command else False,
                        help='log at DEBUG and show tracebacks on failure')


def readable_file(text: str) -> str:
    """A path to a file that can be read."""
    try:
        with open(text, 'rb'):
            pass
    except OSError as ex:
        raise argparse.ArgumentTypeError('cannot read %s: %s' % (text, ex.strerror)) from None
    return text


def parse_args(parser: argparse.ArgumentParser,
               argv: Optional[list[str]] = None) -> argparse.Namespace:
    """The command line as a Namespace; exits with status 2 on a usage error.

    The common options given after the subcommand win over (--transport-url)
    or add to (--config-file) those given before it.
    """
    args, extra = parser.parse_known_args(argv)
    if args.command == 'bench':
        args.bench_args = extra
    elif extra:
        parser.error('unrecognized arguments: %s' % ' '.join(extra))
    late = vars(args)
    if 'late_transport_url' in late:
        args.transport_url = late.pop('late_transport_url')
    args.config_file = args.config_file + late.pop('late_config_file', [])
    args.debug = late.pop('late_debug', False) or args.debug
    return args


def _run_bench(conf: cfg.ConfigOpts, args: argparse.Namespace) -> int:
    from messaging import bench

    return bench.main(args.bench_args, prog='messaging bench')


def main(argv: Optional[list[str]] = None) -> int:
    """Run the ``messaging`` command; returns the exit status."""
    args = parse_args(build_parser(), argv)
    # A command reports its failure in one line, which carries the cause:
    # the library's warnings on the way (each reconnect) would only repeat
    # it. Those that run until stopped log once started (log_while_running).
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.CRITICAL,
                        format='%(levelname)s %(name)s: %(message)s', stream=sys.stderr)
    try:
        conf = load_config(args)
        return args.run(conf, args)
    except KeyboardInterrupt:
        # What was set up is released on the way out (each command's
        # cleanup runs as the interrupt unwinds it).
        sys.stderr.write('messaging %s: interrupted\n' % args.command)
        return EXIT_INTERRUPTED
    except Exception as ex:
        if args.debug:
            LOG.exception('messaging %s failed', args.command)
        sys.stderr.write('messaging %s: %s\n' % (args.command, describe_error(ex)))
        return EXIT_FAILURE


def log_while_running() -> None:
    """Log warnings from now on: a server or listener, started, tells what
    befalls it (reconnects, dropped messages) until it is stopped."""
    root = logging.getLogger()
    if root.level > logging.WARNING:
        root.setLevel(logging.WARNING)


def describe_error(ex: BaseException) -> str:
    """One line that names the failure and, where known, what to do."""
    from messaging import exceptions
    from messaging.drivers.rabbit.errors import BrokerRefusal, PublishTimeout
    from messaging.transport import DriverLoadFailure, InvalidTransportURL

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
                       ConfigurationError, BrokerRefusal)):
        return text
    if isinstance(ex, exceptions.MessageDeliveryFailure):
        return 'cannot reach the broker: %s' % text
    return '%s: %s' % (type(ex).__name__, text)

