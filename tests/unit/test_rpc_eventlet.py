"""The RPC layer under eventlet, in a child process so that monkey-patching
never reaches the test process."""
from __future__ import annotations

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent('''
    import eventlet
    eventlet.monkey_patch()

    import threading
    from oslo_config import cfg
    import messaging

    seen = threading.Event()

    class Endpoint:
        def echo(self, ctxt, value):
            return value

        def remember(self, ctxt):
            seen.set()

        def slow(self, ctxt):
            threading.Event().wait(2.3)
            return 'slow done'

    conf = cfg.ConfigOpts()
    conf([])
    transport = messaging.get_rpc_transport(conf, 'fake://')
    server = messaging.get_rpc_server(
        transport, messaging.Target(topic='t', server='s'), [Endpoint()],
        executor='eventlet')
    server.start()
    client = messaging.get_rpc_client(transport, messaging.Target(topic='t'), timeout=5)
    print('call', client.call({}, 'echo', value=41))
    client.cast({}, 'remember')
    print('cast', seen.wait(5))
    print('monitored', client.prepare(call_monitor_timeout=2).call({}, 'slow'))
    server.stop()
    server.wait()
''')


def test_call_cast_and_heartbeats_work_with_the_eventlet_executor():
    done = subprocess.run([sys.executable, '-c', SCRIPT], capture_output=True, text=True,
                          timeout=30)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split('\n')[:3] == ['call 41', 'cast True', 'monitored slow done']
