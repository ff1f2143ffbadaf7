"""The queue subcommand: ``retire-queue``, for a fleet that changes queue type.

RabbitMQ cannot change an existing queue's type; servers configured for
another type consume the old queue until it is gone, then declare it as
configured (operations.rst, "Changing queue type without an outage"). This
command makes it go without losing what it holds.
"""
from __future__ import annotations

import argparse
import dataclasses

from oslo_config import cfg

import messaging
from messaging.cli.arguments import positive_seconds
from messaging.cli.output import EXIT_OK, print_json
from messaging.cli.rpc_commands import check_broker


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Register the queue subcommands on the top-level parser."""
    retire = sub.add_parser(
        'retire-queue',
        help='delete the shared queue of a topic without losing its requests: unbind '
             'it, let its servers empty it, delete it, and wait for them to declare '
             'it again as configured (to change its type)')
    retire.add_argument('topic', help='the topic whose shared queue to retire')
    retire.add_argument('--exchange', help='the exchange it is bound to (default: '
                                           'control_exchange)')
    retire.add_argument('--timeout', type=positive_seconds, default=30.0,
                        help='seconds the whole command may take (default 30); the '
                             'queue must be empty within the first half, else it is '
                             'bound again and kept')
    retire.set_defaults(run=_run_retire)


def _run_retire(conf: cfg.ConfigOpts, args: argparse.Namespace) -> int:
    check_broker(conf, timeout=args.timeout)
    transport = messaging.get_rpc_transport(conf)
    try:
        retired = transport.admin.retire_queue(args.topic, args.exchange, args.timeout)
    finally:
        transport.cleanup()
    print_json({key: round(value, 3) if isinstance(value, float) else value
                for key, value in dataclasses.asdict(retired).items()})
    return EXIT_OK
