"""The kombu connection of both frame engines: one py-amqp transport class
for every broker URL."""
from __future__ import annotations

import kombu
from kombu.transport import pyamqp


class PinnedKombuConnection(kombu.Connection):
    """A ``kombu.Connection`` that uses ``transport_class`` for every broker
    URL, the failover ones included (the driver speaks AMQP 0-9-1 through
    py-amqp only).

    Passing ``transport=`` would not do: on failover kombu's ``switch()``
    parses the next URL and takes its scheme as the transport again, and
    kombu picks librabbitmq for ``amqp://`` where it is installed.
    """

    #: kombu's py-amqp transport, or a subclass of it.
    transport_class: type = pyamqp.Transport

    def get_transport_cls(self) -> type:
        """``transport_class``, whatever the current URL's scheme."""
        return self.transport_class
