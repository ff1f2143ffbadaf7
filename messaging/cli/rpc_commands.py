"""The RPC subcommands: ``call``, ``cast``, ``fanout``, ``ping`` and ``serve``."""
from __future__ import annotations

import argparse
import importlib
import os
import re
import signal
import sys
import threading
import time
from typing import Any, Optional

from oslo_config import cfg

import messaging
from messaging.drivers.rabbit import options as rabbit_options
from messaging.rpc.dispatcher import PING_METHOD
from messaging.cli.arguments import json_object, key_value, positive_seconds, retry_count
from messaging.cli.output import EXIT_OK, CommandError, log_while_running, print_json
from messaging import log_names

LOG = log_names.get_logger(__name__)


RETRY_HELP = ('retries after a failed first try to reach the broker (default 2; -1 '
              'keeps trying); then the command fails')
CONNECT_HELP = 'seconds to reach the broker at start (default 10)'

# Seconds the reply queue of call or ping outlives the command. A service
# keeps its reply queue (30 minutes by default) to find its replies after a
# reconnect; a command that has exited comes back for none.
REPLY_QUEUE_TTL = 2


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Register the RPC subcommands on the top-level parser."""
    for name, run, help_text in (
            ('call', _run_call, 'call a method and print its result as JSON'),
            ('cast', _run_cast, 'cast a method: send the request, wait for no result'),
            ('fanout', _run_fanout, 'cast a method to every server of the topic')):
        cmd = sub.add_parser(name, help=help_text)
        _add_target_args(cmd, server=name != 'fanout')
        cmd.add_argument('method', help='endpoint method name')
        cmd.add_argument('--arg', dest='args', metavar='KEY=VALUE', type=key_value,
                         action='append', default=[],
                         help='a keyword argument; VALUE is read as JSON when it '
                              'parses (1, true, "x", [1]), else as a string')
        cmd.add_argument('--json-args', type=json_object, default={},
                         help='keyword arguments as one JSON object')
        cmd.add_argument('--context', type=json_object, default={},
                         help='the request context as a JSON object')
        if name == 'call':
            cmd.add_argument('--timeout', type=positive_seconds,
                             help='seconds the whole call may take, reaching the broker '
                                  'included (default: rpc_response_timeout, 60)')
        else:
            cmd.add_argument('--retry', type=retry_count, default=2, help=RETRY_HELP)
        cmd.set_defaults(run=run)

    ping = sub.add_parser('ping', help='check that a server answers (needs '
                                       'rpc_ping_enabled on the server)')
    _add_target_args(ping)
    ping.add_argument('--timeout', type=positive_seconds, default=10.0,
                      help='seconds the whole ping may take, reaching the broker '
                           'included (default 10); with --all, how long to gather '
                           'answers')
    ping.add_argument('--all', dest='ping_all', action='store_true',
                      help='ping every server of the topic at once (fanout) and list '
                           'the answers; the protocol does not carry server names, so '
                           'answers are counted, each with its round trip')
    ping.set_defaults(run=_run_ping)

    serve = sub.add_parser('serve', help='serve the endpoints found at an import path '
                                         'until SIGINT or SIGTERM')
    serve.add_argument('endpoints', metavar='MODULE:ATTR', type=endpoint_path,
                       help='an endpoint object, a class (instantiated without '
                            'arguments) or a list of them; MODULE is looked for in '
                            'the current directory too')
    serve.add_argument('--topic', required=True, help='the topic to serve')
    serve.add_argument('--server', default=None,
                       help='this server\'s name (default: the host name)')
    serve.add_argument('--exchange', default=None,
                       help='the exchange (default: control_exchange)')
    serve.add_argument('--executor', default='threading',
                       choices=('threading', 'eventlet'),
                       help='how requests are run (default threading)')
    serve.add_argument('--ping', action='store_true',
                       help='answer the ping method (sets rpc_ping_enabled)')
    serve.add_argument('--connect-timeout', type=positive_seconds, default=10.0,
                       help=CONNECT_HELP)
    serve.set_defaults(run=_run_serve)


def target_version(text: str) -> str:
    """An API version as a Target takes it: ``X.Y`` or ``X.Y.Z``."""
    if not re.fullmatch(r'\d+\.\d+(\.\d+)?', text):
        raise argparse.ArgumentTypeError('expected a version such as 1.0 or 2.3.1, got %r'
                                         % text)
    return text


def _add_target_args(cmd: argparse.ArgumentParser, server: bool = True) -> None:
    cmd.add_argument('topic', help='the topic the servers listen on')
    if server:
        cmd.add_argument('--server', help='send to this server of the topic only')
    cmd.add_argument('--exchange', help='the exchange (default: control_exchange)')
    cmd.add_argument('--namespace', help='the endpoint namespace')
    cmd.add_argument('--version', dest='target_version', metavar='X.Y', type=target_version,
                     help='the API version the method needs')


def _client(conf: cfg.ConfigOpts, args: argparse.Namespace, timeout: Optional[float] = None,
            **target_overrides: Any):
    transport = messaging.get_rpc_transport(conf)
    target = messaging.Target(topic=args.topic, server=getattr(args, 'server', None),
                              exchange=args.exchange,
                              namespace=getattr(args, 'namespace', None),
                              version=getattr(args, 'target_version', None),
                              **target_overrides)
    return transport, messaging.get_rpc_client(transport, target,
                                               timeout=timeout,
                                               retry=getattr(args, 'retry', None))


def check_broker(conf: cfg.ConfigOpts, notifications: bool = False,
                 timeout: Optional[float] = None) -> None:
    """Before a command uses the broker: log in once, and fail in one line
    that names the broker and the cause when it cannot be used (the driver
    would keep trying until the command's own bound, then name the
    operation it was doing)."""
    get = messaging.get_notification_transport if notifications else messaging.get_rpc_transport
    transport = get(conf)
    try:
        transport.admin.check_broker(timeout)
    finally:
        transport.cleanup()


def connect(transport, timeout: float) -> None:
    """Reach the broker within ``timeout`` seconds (drivers that connect)."""
    transport.admin.connect(timeout)


def connect_to_run(transport, timeout: float) -> None:
    """Before a server or listener starts: reach the broker within
    ``timeout`` seconds (else clean ``transport`` up and raise), then log
    what befalls the running command."""
    try:
        connect(transport, timeout)
    except messaging.MessagingTimeout as ex:
        transport.cleanup()
        raise CommandError('cannot reach the broker within %gs (--connect-timeout): %s'
                           % (timeout, _innermost(ex))) from ex
    except BaseException:
        transport.cleanup()
        raise
    log_while_running()


def _innermost(ex: BaseException) -> BaseException:
    """The first cause of ``ex``: the broker's error, not the operation's."""
    while ex.__cause__ is not None:
        ex = ex.__cause__
    return ex


def expire_replies_on_exit(conf: cfg.ConfigOpts) -> None:
    """Have the broker delete the reply queue soon after the command ends.

    Not with ``use_queue_manager``, whose reply queue names later commands
    reuse: their declarations must keep the same arguments.
    """
    if not conf[rabbit_options.GROUP].use_queue_manager:
        conf.set_override('rabbit_transient_queues_ttl', REPLY_QUEUE_TTL,
                          group=rabbit_options.GROUP)


def _time_left(began: float, timeout: float) -> float:
    """Seconds left (at least 1 ms) of ``timeout`` from ``began``."""
    return max(began + timeout - time.monotonic(), 0.001)


def _kwargs(args: argparse.Namespace) -> dict:
    kwargs = dict(args.json_args)
    kwargs.update(dict(args.args))
    return kwargs


def _run_call(conf: cfg.ConfigOpts, args: argparse.Namespace) -> int:
    began = time.monotonic()
    check_broker(conf, timeout=args.timeout)
    expire_replies_on_exit(conf)
    # --timeout bounds the whole command, the broker check included.
    timeout = None if args.timeout is None else _time_left(began, args.timeout)
    transport, client = _client(conf, args, timeout)
    try:
        print_json(client.call(args.context, args.method, **_kwargs(args)))
    finally:
        transport.cleanup()
    return EXIT_OK


def _cast(conf: cfg.ConfigOpts, args: argparse.Namespace, fanout: bool) -> int:
    check_broker(conf)
    transport, client = _client(conf, args, fanout=fanout or None)
    try:
        client.cast(args.context, args.method, **_kwargs(args))
    finally:
        transport.cleanup()
    return EXIT_OK


def _run_cast(conf: cfg.ConfigOpts, args: argparse.Namespace) -> int:
    return _cast(conf, args, fanout=False)


def _run_fanout(conf: cfg.ConfigOpts, args: argparse.Namespace) -> int:
    return _cast(conf, args, fanout=True)


def _run_ping(conf: cfg.ConfigOpts, args: argparse.Namespace) -> int:
    began = time.monotonic()
    check_broker(conf, timeout=args.timeout)
    expire_replies_on_exit(conf)
    transport = messaging.get_rpc_transport(conf)
    try:
        # The round trip is the ping's alone: the connection and the reply
        # queue are set up first, within the same --timeout.
        connect(transport, _time_left(began, args.timeout))
        left = _time_left(began, args.timeout)
        if args.ping_all:
            started = time.monotonic()
            answers = transport.admin.fanout_call(
                messaging.Target(topic=args.topic), {},
                {'method': PING_METHOD, 'args': {}}, left)
        else:
            target = messaging.Target(topic=args.topic, server=args.server,
                                      exchange=args.exchange, namespace=args.namespace,
                                      version=args.target_version)
            client = messaging.get_rpc_client(transport, target, timeout=left)
            started = time.monotonic()
            answer = client.call({}, PING_METHOD)
            elapsed_ms = (time.monotonic() - started) * 1000
    finally:
        transport.cleanup()
    if not args.ping_all:
        print_json({'topic': args.topic, 'server': args.server, 'answer': answer,
                    'round_trip_ms': round(elapsed_ms, 3)})
        return EXIT_OK
    print_json({'topic': args.topic, 'servers_answering': len(answers),
                'answers': [{'answer': _printable(value),
                             'round_trip_ms': round((arrived - started) * 1000, 3)}
                            for arrived, value in answers]})
    if not answers:
        raise CommandError('no server of topic %s answered within %ss (do its servers '
                           'run with rpc_ping_enabled?)' % (args.topic, args.timeout))
    return EXIT_OK


def _printable(value: Any) -> Any:
    """An answer for the JSON output: a remote exception shown as its text."""
    if isinstance(value, BaseException):
        return '%s: %s' % (type(value).__name__, str(value).splitlines()[0])
    return value


def endpoint_path(text: str) -> str:
    """An import path of endpoints, ``MODULE:ATTR``."""
    module_name, sep, attr = text.partition(':')
    if not sep or not module_name or not attr:
        raise argparse.ArgumentTypeError('endpoints must be given as MODULE:ATTR, got %r'
                                         % text)
    return text


def load_endpoints(path: str) -> list:
    """The endpoints named by ``module:attr``."""
    try:
        module_name, attr = endpoint_path(path).split(':', 1)
    except argparse.ArgumentTypeError as ex:
        raise CommandError(str(ex)) from None
    # An installed "messaging" script puts its own directory first on
    # sys.path, not the current one, where "serve mymodule:Endpoint"
    # expects mymodule.py to be found.
    if os.getcwd() not in sys.path and '' not in sys.path:
        sys.path.append(os.getcwd())
    try:
        found = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as ex:
        raise CommandError('cannot load endpoints %s: %s' % (path, ex))
    candidates = found if isinstance(found, (list, tuple)) else [found]
    return [item() if isinstance(item, type) else item for item in candidates]


def _run_serve(conf: cfg.ConfigOpts, args: argparse.Namespace) -> int:
    import socket

    endpoints = load_endpoints(args.endpoints)
    if args.ping:
        conf.set_override('rpc_ping_enabled', True)
    check_broker(conf, timeout=args.connect_timeout)
    transport = messaging.get_rpc_transport(conf)
    target = messaging.Target(topic=args.topic, server=args.server or socket.gethostname(),
                              exchange=args.exchange)
    server = messaging.get_rpc_server(transport, target, endpoints, executor=args.executor)
    connect_to_run(transport, args.connect_timeout)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    server.start()
    print_json({'serving': args.endpoints, 'topic': target.topic, 'server': target.server})
    stop.wait()
    LOG.info('Stopping: letting the calls in progress finish')
    server.stop()
    server.wait()
    transport.cleanup()
    return EXIT_OK
