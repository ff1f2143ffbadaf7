"""Play one interop role with oslo.messaging, in its own process.

Run by the interpreter that has oslo.messaging 18.3.1 (never by the test
process)::

    python oslo_peer.py ROLE CONFIG_JSON

ROLE is a key of ``peer_roles.ROLES``. Each event is printed to stdout as one
JSON line: ``ready`` once the role has started (servers and listeners are
consuming), the reply to each command read from stdin (one JSON object per
line, its ``id`` echoed back), the role's own events (``invoked``,
``notification``) and ``stopped``. A ``stop`` line or the end of stdin stops
the role cleanly. Logs go to stderr.
"""
from __future__ import annotations

import json
import logging
import os
import sys
import threading


class Emitter:
    """Writes events as JSON lines; endpoints call it from executor threads."""

    def __init__(self, stream) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    def __call__(self, event: dict) -> None:
        line = json.dumps(event, default=repr)
        with self._lock:
            self._stream.write(line + '\n')
            self._stream.flush()


def serve(role, emit: Emitter, commands) -> None:
    """Answer commands until ``stop`` or the end of input."""
    for line in commands:
        line = line.strip()
        if not line:
            continue
        if line == 'stop':
            return
        cmd = json.loads(line)
        try:
            reply = role.handle(cmd)
        except Exception as ex:
            reply = {'event': 'error', 'error': '%s: %s' % (type(ex).__name__, ex)}
        emit(dict(reply, id=cmd.get('id')))


def main(argv: list[str]) -> int:
    role_name, config = argv[1], json.loads(argv[2])
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING,
                        format='%(asctime)s %(name)s %(levelname)s %(message)s')
    import oslo_messaging
    from importlib import metadata

    import peer_roles

    # oslo.messaging 18.3.1 registers its metrics and tracing options only on
    # the global cfg.CONF (when oslo_messaging._metrics.client and
    # _tracing.client are imported) and leaves them out of list_opts, yet
    # RPCClient reads them from the transport's conf: a client on a private
    # ConfigOpts fails with NoSuchOptError 'oslo_messaging_metrics' (then
    # 'oslo_messaging_tracing') unless they are registered there too.
    from oslo_messaging._metrics import client as metrics_client
    from oslo_messaging._tracing import client as tracing_client
    peer_roles.GLOBAL_ONLY_OPTS.extend([
        ('oslo_messaging_metrics', metrics_client.oslo_messaging_metrics),
        ('oslo_messaging_tracing', tracing_client.oslo_messaging_tracing),
    ])

    emit = Emitter(sys.stdout)
    role = peer_roles.ROLES[role_name](oslo_messaging, emit, config)
    emit({'event': 'ready', 'role': role_name, 'pid': os.getpid(),
          'version': metadata.version('oslo.messaging')})
    try:
        serve(role, emit, sys.stdin)
    finally:
        role.stop()
    emit({'event': 'stopped'})
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
