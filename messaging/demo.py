"""A one-process tour of RPC: ``python -m messaging.demo``.

Starts an RPC server and a client on the in-memory ``fake://`` transport,
makes a call and a cast, and prints what happened. No broker is needed.
"""
from __future__ import annotations

import sys
import threading
from typing import Any

from oslo_config import cfg

import messaging


CAST_WAIT_SECONDS = 5


class GreeterEndpoint:
    """The demo's endpoint: one method to call, one to cast."""

    target = messaging.Target(version='1.1')

    def __init__(self) -> None:
        self.notes: list[str] = []
        self.noted = threading.Event()

    def greet(self, ctxt: dict, name: str) -> str:
        return 'Hello, %s (from user %s)' % (name, ctxt.get('user'))

    def note(self, ctxt: dict, text: str) -> None:
        self.notes.append(text)
        self.noted.set()


def main() -> int:
    """Run the tour; 0 when both the call and the cast were handled."""
    conf = cfg.ConfigOpts()
    conf([], project='messaging-demo')
    transport = messaging.get_rpc_transport(conf, url='fake://')
    endpoint = GreeterEndpoint()
    server = messaging.get_rpc_server(
        transport, messaging.Target(topic='demo', server='server-1'), [endpoint])
    client = messaging.get_rpc_client(transport, messaging.Target(topic='demo'),
                                      timeout=10)
    server.start()
    try:
        ctxt: dict[str, Any] = {'user': 'alice'}
        reply = client.prepare(version='1.1').call(ctxt, 'greet', name='world')
        print('call  greet(name="world") -> %r' % reply)
        client.cast(ctxt, 'note', text='remember the milk')
        if not endpoint.noted.wait(CAST_WAIT_SECONDS):
            print('cast  note(...) was not handled within %ss' % CAST_WAIT_SECONDS)
            return 1
        print('cast  note(text="remember the milk") handled; server notes: %r'
              % endpoint.notes)
    finally:
        server.stop()
        server.wait()
        transport.cleanup()
    print('done')
    return 0


if __name__ == '__main__':
    sys.exit(main())
