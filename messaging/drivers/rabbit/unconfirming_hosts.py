"""The brokers of a cluster that took a publish of this process and never
confirmed it: the driver's send connections and its reply connection still
on one move to the next host of the URL.

Why: a RabbitMQ 4 node cut off from its cluster's majority (Khepri, quorum
queues and streams are all Raft) keeps its clients' connections and takes
their publishes, but confirms none of them (it reaches no queue leader), and
its consumers receive nothing; no broker or client event says so. The one
sign a client sees is a publish not confirmed within its bound on a
connection the broker has not blocked (a memory or disk alarm, which
RabbitMQ announces with ``connection.blocked``). Without this, each
connection would wait out a timeout of its own there, and the reply and
listening connections, which publish nothing, would stay until the
partition heals.

The link that sees such a timeout reports its host here (``report``); each
link that shares this record asks, before its next operation, whether its
host was reported since it connected (``reported_since``), and if so moves
on; and a link about to connect passes over a host reported in the last
``AVOID_FOR`` seconds (``avoided``) while another host is left to try.

A server's listening connections do not share it. The same sign comes from
a healthy node too, for the time a queue's leader is out of reach (a reply
queue led by the node cut off, until the others elect a new leader), and a
listening connection that moves hands back what it had received, to be
delivered again, and consumes anew on a node that may be busy with the
partition itself (seen on RabbitMQ 4.3: a server that so moved heard nothing
for 44 s). A server consuming through the node cut off hears nothing until
the partition heals; the other servers of its topic serve the calls.
"""
from __future__ import annotations

import time

# How long new connections pass over a reported host. Nothing tells the
# client when the node is whole again; after this a connection may land
# there again, and if it still confirms nothing, one more publish times out
# and the host is reported anew. A minute outlasts the partitions that
# RabbitMQ's own detection ends (net_ticktime, 60 s by default), and is
# short against those an operator has to mend.
AVOID_FOR = 60.0


class UnconfirmingHosts:
    """Where and when a publish of this driver went unconfirmed.

    One per driver, shared by all its links; each entry is one dict write,
    atomic under the GIL, so no lock is needed.
    """

    def __init__(self) -> None:
        # host:port -> time.monotonic() of the latest report.
        self._reported: dict[str, float] = {}

    def __bool__(self) -> bool:
        """Whether any host was reported (the common case is none: the
        links' check per operation then costs no more than this)."""
        return bool(self._reported)

    def report(self, host: str) -> None:
        """``host`` took a publish and confirmed it neither in time nor
        blocked it."""
        self._reported[host] = time.monotonic()

    def reported_since(self, host: str, since: float) -> bool:
        """Whether ``host`` was reported after the ``time.monotonic()``
        instant ``since`` (when a link connected to it)."""
        reported = self._reported.get(host)
        return reported is not None and reported > since

    def avoided(self, host: str) -> bool:
        """Whether ``host`` was reported in the last ``AVOID_FOR`` seconds."""
        reported = self._reported.get(host)
        return reported is not None and time.monotonic() - reported < AVOID_FOR
