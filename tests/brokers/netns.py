"""The network of a test cluster: one namespace per node, wired by two bridges.

A hub namespace holds two bridges:

* the cluster network (``10.99.0.0/24``, private to the namespaces), on
  which the nodes reach each other: Erlang distribution and epmd. Node
  ``i`` is ``10.99.0.1<i+1>`` there;
* the client network (a random ``10.x.y.0/24`` no route of the machine
  overlaps), joined to this machine's namespace by one veth pair: the
  tests' clients reach node ``i`` at ``hosts[i]``.

``cut(i)`` takes node ``i``'s port off the cluster bridge: every packet
between it and the other nodes is dropped, silently, as a failed switch
would, while its clients still reach it; with ``clients=True`` its port on
the client bridge goes too. ``heal(i)`` puts them back. ``remove()``
kills what still runs in the namespaces and deletes them, and with them
every veth pair and bridge.
"""
from __future__ import annotations

import ipaddress
import os
import signal
import subprocess
import time

CLUSTER_NET = '10.99.0.'
KILL_TIMEOUT = 30


def run(*argv: str, timeout: float = 30) -> str:
    """Run a command; its stdout, or RuntimeError with its stderr."""
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if done.returncode:
        raise RuntimeError('%s failed: %s' % (' '.join(argv), (done.stderr or done.stdout).strip()))
    return done.stdout


def cluster_address(node: int) -> str:
    """Node ``node``'s address on the cluster network."""
    return '%s%d' % (CLUSTER_NET, 11 + node)


def _client_subnet() -> ipaddress.IPv4Network:
    """A random 10.x.y.0/24 that no route of this machine overlaps."""
    taken = []
    for line in run('ip', '-4', 'route', 'show', 'table', 'all').splitlines():
        words = line.split()
        if words and words[0] in ('local', 'broadcast', 'unreachable', 'blackhole'):
            words = words[1:]
        try:
            taken.append(ipaddress.ip_network(words[0], strict=False))
        except (ValueError, IndexError):
            continue
    for _ in range(100):
        raw = os.urandom(2)
        subnet = ipaddress.ip_network('10.%d.%d.0/24' % (100 + raw[0] % 150, raw[1]))
        if not any(subnet.overlaps(net) for net in taken if net.prefixlen):
            return subnet
    raise RuntimeError('no free 10.x.y.0/24 for the cluster\'s client network')


class Network:
    """The namespaces ``msgc-<name>-n<i>`` of ``count`` nodes and their hub."""

    def __init__(self, name: str, count: int) -> None:
        self.hub = 'msgc-%s-hub' % name
        self.namespaces = ['msgc-%s-n%d' % (name, i) for i in range(count)]
        self.hosts: list[str] = []
        self._outside = 'msgc%s' % name
        self._cut: dict[int, list[str]] = {}

    def create(self) -> list[str]:
        """Make the namespaces and bridges; returns the nodes' client addresses."""
        subnet = _client_subnet()
        hub = self.hub
        for name in [hub, *self.namespaces]:
            run('ip', 'netns', 'add', name)
            run('ip', '-n', name, 'link', 'set', 'lo', 'up')
        for bridge in ('bclient', 'bcluster'):
            run('ip', '-n', hub, 'link', 'add', bridge, 'type', 'bridge')
            run('ip', '-n', hub, 'link', 'set', bridge, 'up')
        # This machine's end of the client network; deleted with the hub.
        run('ip', 'link', 'add', self._outside, 'type', 'veth', 'peer', 'name', 'up0',
            'netns', hub)
        run('ip', '-n', hub, 'link', 'set', 'up0', 'master', 'bclient', 'up')
        run('ip', 'addr', 'add', '%s/24' % subnet[1], 'dev', self._outside)
        run('ip', 'link', 'set', self._outside, 'up')
        self.hosts = [str(subnet[11 + i]) for i in range(len(self.namespaces))]
        for i, name in enumerate(self.namespaces):
            for port, inside, bridge, address in (
                    ('c%d' % i, 'amqp0', 'bclient', '%s/24' % self.hosts[i]),
                    ('d%d' % i, 'dist0', 'bcluster', '%s/24' % cluster_address(i))):
                run('ip', '-n', hub, 'link', 'add', port, 'type', 'veth', 'peer', 'name',
                    inside, 'netns', name)
                run('ip', '-n', hub, 'link', 'set', port, 'master', bridge, 'up')
                run('ip', '-n', name, 'addr', 'add', address, 'dev', inside)
                run('ip', '-n', name, 'link', 'set', inside, 'up')
        return self.hosts

    def cut(self, node: int, clients: bool = False) -> None:
        """Cut node ``node`` off from the others (and its clients, with ``clients``)."""
        self._cut[node] = ['d%d' % node] + (['c%d' % node] if clients else [])
        for port in self._cut[node]:
            run('ip', '-n', self.hub, 'link', 'set', port, 'nomaster')

    def heal(self, node: int) -> None:
        """Undo ``cut(node)``."""
        for port in self._cut.pop(node, []):
            bridge = 'bcluster' if port.startswith('d') else 'bclient'
            run('ip', '-n', self.hub, 'link', 'set', port, 'master', bridge)

    def remove(self) -> None:
        """Kill what still runs in the namespaces, delete them."""
        remove(self.hub, self.namespaces)


def remove(hub: str, namespaces: list[str]) -> None:
    """Kill what still runs in ``namespaces``; delete them and ``hub``."""
    listed = set(run('ip', 'netns', 'list').split())
    for name in namespaces:
        if name not in listed:
            continue
        for pid in run('ip', 'netns', 'pids', name).split():
            try:
                os.kill(int(pid), signal.SIGKILL)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + KILL_TIMEOUT
        while run('ip', 'netns', 'pids', name).split() and time.monotonic() < deadline:
            time.sleep(0.1)
    for name in [hub, *namespaces]:
        if name in listed:
            run('ip', 'netns', 'delete', name)
