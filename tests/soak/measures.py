"""What the soak tests count: deliveries per id, and the process's file
descriptors, memory, threads and broker connections."""
from __future__ import annotations

import os
import threading


class DeliveryLedger:
    """How many times each id (0 .. size-1) was delivered to the endpoint."""

    def __init__(self, size: int) -> None:
        self.counts = [0] * size
        self.distinct = 0
        self._arrived = threading.Condition()

    def record(self, ident: int) -> None:
        with self._arrived:
            self.counts[ident] += 1
            if self.counts[ident] == 1:
                self.distinct += 1
                self._arrived.notify_all()

    def wait_for(self, distinct: int, timeout: float) -> bool:
        """Whether ``distinct`` different ids arrived within ``timeout`` s."""
        with self._arrived:
            return self._arrived.wait_for(lambda: self.distinct >= distinct, timeout)

    def duplicates(self) -> int:
        return sum(count - 1 for count in self.counts if count > 1)


def open_fds() -> int:
    """File descriptors the process has open."""
    return len(os.listdir('/proc/self/fd'))


def rss_mb() -> float:
    """The process's resident memory in MiB."""
    with open('/proc/self/status') as status:
        for line in status:
            if line.startswith('VmRSS:'):
                return int(line.split()[1]) / 1024
    raise AssertionError('no VmRSS in /proc/self/status')


def threads() -> int:
    """OS threads of the process (every kind, not only Python's)."""
    return len(os.listdir('/proc/self/task'))


def broker_connections(port: int = 5672) -> int:
    """TCP connections of this process to ``port`` that are established."""
    inodes = set()
    for fd in os.listdir('/proc/self/fd'):
        try:
            target = os.readlink('/proc/self/fd/' + fd)
        except OSError:
            continue
        if target.startswith('socket:['):
            inodes.add(target[8:-1])
    count = 0
    for table in ('/proc/self/net/tcp', '/proc/self/net/tcp6'):
        try:
            with open(table) as rows:
                next(rows)
                for row in rows:
                    fields = row.split()
                    remote_port = int(fields[2].rsplit(':', 1)[1], 16)
                    # State 01 is ESTABLISHED.
                    if remote_port == port and fields[3] == '01' and fields[9] in inodes:
                        count += 1
        except FileNotFoundError:
            continue
    return count
