"""Helpers shared by the RPC unit tests (this module holds no tests).

Servers and clients run on the in-memory ``fake://`` transport; each test
builds its own transport, so tests share no broker state and can run in
any order.
"""
from __future__ import annotations

import contextlib
import threading
from typing import Any, Iterator, Optional

from oslo_config import cfg

import messaging
from messaging.drivers import base

TOPIC = 'rpc-tests'


def make_transport(allowed_remote_exmods: Optional[list[str]] = None,
                   **overrides: Any) -> messaging.Transport:
    """A fake:// transport on a fresh config, with ``overrides`` set."""
    conf = cfg.ConfigOpts()
    conf([], project='messaging-tests')
    transport = messaging.get_rpc_transport(conf, 'fake://',
                                            allowed_remote_exmods=allowed_remote_exmods)
    for name, value in overrides.items():
        conf.set_override(name, value)
    return transport


@contextlib.contextmanager
def running_server(transport, endpoints: list, server: str = 'server-1',
                   topic: str = TOPIC, exchange: Optional[str] = None,
                   **kwargs: Any) -> Iterator[messaging.rpc.server.RPCServer]:
    """An RPC server started for the block, then stopped and waited for.

    ``kwargs`` go to ``get_rpc_server`` (executor, serializer, access_policy).
    """
    target = messaging.Target(topic=topic, server=server, exchange=exchange)
    rpc_server = messaging.get_rpc_server(transport, target, endpoints, **kwargs)
    rpc_server.start()
    try:
        yield rpc_server
    finally:
        rpc_server.stop()
        rpc_server.wait()


class RecordingIncoming(base.RpcIncomingMessage):
    """An incoming request that records what the server did with it."""

    def __init__(self, message: dict, ctxt: Optional[dict] = None,
                 msg_id: Optional[str] = 'msg-1', client_timeout: Any = None) -> None:
        ctxt = dict(ctxt or {})
        ctxt['client_timeout'] = client_timeout
        super().__init__(ctxt, message, msg_id)
        self.events: list[str] = []
        self.replies: list[tuple[Any, Optional[BaseException]]] = []
        self.heartbeats = 0
        self.heartbeat_seen = threading.Event()

    def acknowledge(self) -> None:
        self.events.append('ack')

    def requeue(self) -> None:
        self.events.append('requeue')

    def reply(self, reply: Any = None, failure: Optional[BaseException] = None) -> None:
        self.events.append('reply')
        self.replies.append((reply, failure))

    def heartbeat(self) -> None:
        self.events.append('heartbeat')
        self.heartbeats += 1
        self.heartbeat_seen.set()
