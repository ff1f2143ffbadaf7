"""The Target: where a message goes, or what a server listens to."""
from __future__ import annotations

from typing import Any, Optional

__all__ = ['Target']


class Target:
    """Identifies a destination or a subscription.

    :param exchange: the exchange topics live in; ``None`` means the
        transport's ``control_exchange``.
    :param topic: the name of the service, e.g. ``compute``.
    :param namespace: groups endpoint methods; ``None`` is the default one.
    :param version: the API version, ``"X.Y"``; a client asks for at least
        this version, a server offers it.
    :param server: one server of the topic; a client sends to it alone.
    :param fanout: a client sends to every server of the topic.
    :param legacy_namespaces: other namespaces an endpoint also answers to
        (kept, with ``namespace`` first, in ``accepted_namespaces``).
    """

    _FIELDS = ('exchange', 'topic', 'namespace', 'version', 'server', 'fanout')

    def __init__(self, exchange: Optional[str] = None, topic: Optional[str] = None,
                 namespace: Optional[str] = None, version: Optional[str] = None,
                 server: Optional[str] = None, fanout: Optional[bool] = None,
                 legacy_namespaces: Optional[list[str]] = None) -> None:
        self.exchange = exchange
        self.topic = topic
        self.namespace = namespace
        self.version = version
        self.server = server
        self.fanout = fanout
        self.accepted_namespaces = [namespace] + list(legacy_namespaces or [])

    def __call__(self, **kwargs: Any) -> 'Target':
        """Return a copy with the given fields replaced.

        As oslo's, the copy has no legacy namespaces unless they are given.
        """
        for name in self._FIELDS:
            kwargs.setdefault(name, getattr(self, name))
        return Target(**kwargs)

    def __eq__(self, other: object) -> bool:
        return vars(self) == vars(other)

    def __ne__(self, other: object) -> bool:
        return not self == other

    def __hash__(self) -> int:
        return id(self)

    def __repr__(self) -> str:
        attrs = ', '.join('%s=%s' % (name, getattr(self, name))
                          for name in self._FIELDS if getattr(self, name))
        return '<Target ' + attrs + '>'
