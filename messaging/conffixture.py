"""ConfFixture: set messaging options for a test and put them back after.

Works as a ``fixtures`` fixture (``self.useFixture(ConfFixture(conf))`` in
testtools) and as a context manager (``with ConfFixture(conf) as f:`` in
pytest).
"""
from __future__ import annotations

import importlib
from typing import Any, Optional

import fixtures
from oslo_config import cfg

from messaging import observability
from messaging import options

__all__ = ['ConfFixture']

# Option lists registered by modules that may not have been imported yet.
_OPTIONAL_OPT_LISTS = (
    ('messaging.drivers.rabbit.options', 'rabbit_opts', 'oslo_messaging_rabbit'),
)


class ConfFixture(fixtures.Fixture):
    """Registers the library's options on ``conf`` and overrides them for a test.

    :param conf: the ConfigOpts the code under test uses.
    :param transport_url: the URL to use, e.g. ``'fake://'``.
    """

    def __init__(self, conf: cfg.ConfigOpts, transport_url: Optional[str] = None) -> None:
        super().__init__()
        self.conf = conf
        options.register_default_opts(conf)
        options.register_notifier_opts(conf)
        observability.register_opts(conf)
        for module, attr, group in _OPTIONAL_OPT_LISTS:
            try:
                opts = getattr(importlib.import_module(module), attr)
            except (ImportError, AttributeError):
                continue
            conf.register_opts(opts, group=group)
        if transport_url is not None:
            self.transport_url = transport_url

    def _setUp(self) -> None:
        # As oslo's fixture: at cleanup the ConfigOpts is reset, which undoes
        # every set_override/clear_override (and set_default) made on it
        # since, by the code under test too, not only those made here.
        self.addCleanup(self.conf.reset)

    @property
    def transport_url(self) -> str:
        """``[DEFAULT] transport_url`` as the code under test sees it."""
        return self.conf.transport_url

    @transport_url.setter
    def transport_url(self, value: str) -> None:
        self.conf.set_override('transport_url', value)

    @property
    def response_timeout(self) -> int:
        """``[DEFAULT] rpc_response_timeout``."""
        return self.conf.rpc_response_timeout

    @response_timeout.setter
    def response_timeout(self, value: int) -> None:
        self.conf.set_override('rpc_response_timeout', value)

    def set_override(self, name: str, value: Any, group: Optional[str] = None) -> None:
        """Override any option (ours: oslo's fixture has no such method)."""
        self.conf.set_override(name, value, group=group)
