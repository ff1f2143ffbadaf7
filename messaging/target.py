"""The Target: where a message goes, or what a server listens to."""
from __future__ import annotations

from typing import Any, Iterable, Optional

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
    :param legacy_namespaces: other namespaces an endpoint also answers to.
    :param accessible: whether the endpoint may be reached over RPC.
    """

    def __init__(self, exchange: Optional[str] = None, topic: Optional[str] = None,
                 namespace: Optional[str] = None, version: Optional[str] = None,
                 server: Optional[str] = None, fanout: Optional[bool] = None,
                 legacy_namespaces: Optional[Iterable[str]] = None,
                 accessible: bool = True) -> None:
        self.exchange = exchange
        self.topic = topic
        self.namespace = namespace
        self.version = version
        self.server = server
        self.fanout = fanout
        self.accessible = accessible
        self.legacy_namespaces = [None] + list(legacy_namespaces or [])

    _FIELDS = ('exchange', 'topic', 'namespace', 'version', 'server', 'fanout')

    @property
    def accepted_namespaces(self) -> list[Optional[str]]:
        """The request namespaces an endpoint with this target serves: its
        own and its legacy ones (as oslo.messaging's attribute of that name)."""
        return [self.namespace] + self.legacy_namespaces[1:]

    def __call__(self, **kwargs: Any) -> 'Target':
        """Return a copy with the given fields replaced."""
        for name in self._FIELDS + ('accessible',):
            kwargs.setdefault(name, getattr(self, name))
        kwargs.setdefault('legacy_namespaces', self.legacy_namespaces[1:])
        return Target(**kwargs)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Target) and vars(self) == vars(other)

    def __ne__(self, other: object) -> bool:
        return not self == other

    def __hash__(self) -> int:
        return id(self)

    def __repr__(self) -> str:
        attrs = ', '.join('%s=%s' % (name, getattr(self, name))
                          for name in self._FIELDS if getattr(self, name))
        return '<Target ' + attrs + '>'
