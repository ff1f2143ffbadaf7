"""A one-shot service for the queue manager tests, run as its own process.

    python queue_manager_service.py LIBRARY URL EXCHANGE TOPIC

LIBRARY is the module to use (``messaging`` or ``oslo_messaging``). The
service starts an RPC server on TOPIC (of EXCHANGE), calls it once (which makes its reply
queue) and stops; the test reads the names of the queues it left from the
broker. Its hostname and processname come from the URL's query, so that
several of these processes, of either library, can play the processes of
one host.
"""
from __future__ import annotations

import importlib
import sys


class Echo:
    def echo(self, ctxt, **kwargs):
        return kwargs


def main(argv: list[str]) -> int:
    library, url, exchange, topic = argv[1:5]
    om = importlib.import_module(library)
    from oslo_config import cfg

    # The global ConfigOpts: oslo.messaging's RPC client reads options it
    # registers only there (metrics, tracing).
    cfg.CONF([], project='queue-manager-test')
    transport = om.get_rpc_transport(cfg.CONF, url)
    server = om.get_rpc_server(transport, om.Target(topic=topic, server='s1', exchange=exchange),
                               [Echo()],
                               executor='threading')
    server.start()
    try:
        client = om.get_rpc_client(transport, om.Target(topic=topic, server='s1',
                                                          exchange=exchange), timeout=20)
        assert client.call({}, 'echo', n=1) == {'n': 1}
    finally:
        server.stop()
        server.wait()
        transport.cleanup()
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
