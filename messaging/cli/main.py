"""Argument parsing, configuration and error reporting for the ``messaging`` command.

Each subcommand lives in its own module; this one builds the parser, loads
the configuration, runs the subcommand and turns any failure into one clear
line on stderr (with ``--debug`` for the traceback) and a non-zero exit.
"""
from __future__ import annotations

import argparse
import logging
import sys
from typing import Optional

from oslo_config import cfg

from messaging import log_names
from messaging.cli import notify_commands, queue_commands, rpc_commands
from messaging.cli.arguments import readable_file
from messaging.cli.config import load_config
from messaging.cli.output import (EXIT_FAILURE, EXIT_INTERRUPTED, describe_error)

LOG = log_names.get_logger(__name__)

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog='messaging',
        description='Call, cast, ping, notify, listen and serve over a messaging '
                    'transport (RabbitMQ or in-memory); retire a shared queue.')
    _add_common_options(parser)
    sub = parser.add_subparsers(dest='command', metavar='COMMAND')
    sub.required = True
    rpc_commands.add_parsers(sub)
    notify_commands.add_parsers(sub)
    queue_commands.add_parsers(sub)
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

