"""Endpoints that the CLI tests serve with ``messaging serve tests.cli.endpoints:...``."""


class EchoEndpoint:
    """Returns what it was given, so a test can check the round trip."""

    def echo(self, ctxt, **kwargs):
        return {'args': kwargs, 'context': {k: v for k, v in ctxt.items()
                                            if k != 'client_timeout'}}

    def fail(self, ctxt, reason='no reason'):
        raise ValueError(reason)
