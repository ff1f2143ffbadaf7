"""The calls and casts both libraries make in the observability interop test.

Imported by this process and by oslo_observed_peer.py, with the library
module (``messaging`` or ``oslo_messaging``) passed in.
"""


class Echo:
    """The endpoint both servers run."""

    def echo(self, ctxt, value):
        return value

    def fail(self, ctxt):
        raise ValueError('boom')


def run_scenario(library, transport, topic):
    """3 calls, 2 casts, a fanout cast and a failing call to ``topic``."""
    client = library.get_rpc_client(transport, library.Target(topic=topic))
    for value in range(3):
        assert client.call({'request_id': 'req-scenario'}, 'echo', value=value) == value
    for value in range(2):
        client.cast({}, 'echo', value=value)
    client.prepare(fanout=True).cast({}, 'echo', value=9)
    try:
        client.call({}, 'fail')
    except ValueError:
        pass
    else:
        raise AssertionError('fail() did not raise')
