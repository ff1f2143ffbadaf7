"""RabbitMQ nodes of the tests' own, started with pifpaf.

Fault tests stop, restart and alarm brokers; they must never do that to the
broker on 5672 that everything else uses. ``RabbitNodes`` starts one node or
a three-node cluster (``rabbitmqctl join_cluster``) from the installed
``rabbitmq-server``, on free loopback ports, with node names, Erlang cookie
and data directories of its own under a temporary folder, and removes all
of it on ``stop()``.

The machine-wide ``/etc/rabbitmq/rabbitmq.conf`` pins listeners to 5672, so
our nodes read an empty configuration file of their own instead.
"""
from __future__ import annotations

import os
import socket
import subprocess
import tempfile
import uuid
from typing import Optional

from pifpaf.drivers.rabbitmq import RabbitMQDriver

USER = 'pifpaf'
PASSWORD = 'secret'
_SBIN = ['/usr/lib/rabbitmq/bin', '/usr/libexec/rabbitmq', '/usr/local/sbin',
         '/usr/sbin']
# Erlang distribution listens on the AMQP port + 20000 (RabbitMQ's rule).
_DIST_OFFSET = 20000


def rabbitmq_installed() -> bool:
    """Whether ``rabbitmq-server`` can be found where pifpaf looks."""
    return any(os.path.exists(os.path.join(d, 'rabbitmq-server')) for d in _SBIN)


def port_free(port: int) -> bool:
    """Whether nothing listens on (or holds) TCP ``port`` of 127.0.0.1."""
    with socket.socket() as sock:
        try:
            sock.bind(('127.0.0.1', port))
        except OSError:
            return False
    return True


def _free_base_port(count: int) -> int:
    """A port P with P..P+count-1 and their distribution ports all free."""
    for _ in range(200):
        base = int.from_bytes(os.urandom(2), 'big') % 20000 + 21000
        ports = [base + i for i in range(count)]
        if all(port_free(p) and port_free(p + _DIST_OFFSET) for p in ports):
            return base
    raise RuntimeError('no free ports for a RabbitMQ node of the tests')


class _OwnConfigDriver(RabbitMQDriver):
    """pifpaf's driver, with every node reading our empty config file."""

    def __init__(self, config_file: str, **kwargs) -> None:
        self._config_file = config_file
        super().__init__(**kwargs)

    @property
    def env(self) -> dict:
        return self._env

    @env.setter
    def env(self, value: dict) -> None:
        self._env = dict(value, RABBITMQ_CONFIG_FILE=self._config_file,
                         RABBITMQ_CONF_ENV_FILE=os.devnull)


class RabbitNodes:
    """One node (``cluster=False``) or a three-node cluster of our own.

    ``nodes[i]`` is a node name, ``ports[i]`` its AMQP port on 127.0.0.1.
    """

    def __init__(self, cluster: bool = False) -> None:
        self.cluster = cluster
        count = 3 if cluster else 1
        self._workdir = tempfile.mkdtemp(prefix='messaging-nodes-')
        config = os.path.join(self._workdir, 'rabbitmq.conf')
        with open(config, 'w') as f:
            f.write('loopback_users = none\n')
        base = _free_base_port(count)
        name = 'msgtest%s' % uuid.uuid4().hex[:8]
        self._driver = _OwnConfigDriver(config, port=base, nodename=name,
                                        cluster=cluster, username=USER,
                                        password=PASSWORD)
        self._driver.tmp_rootdir = self._workdir
        self.ports = [base + i for i in range(count)]
        if cluster:
            self.nodes = ['%s-%d@localhost' % (name, i + 1) for i in range(count)]
        else:
            self.nodes = ['%s@localhost' % name]

    def start(self) -> 'RabbitNodes':
        """Start the node(s) and wait until they accept AMQP connections."""
        try:
            self._driver.setUp()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Kill every node of ours and remove their files."""
        try:
            self._driver.cleanUp()
        finally:
            subprocess.run(['rm', '-rf', self._workdir], check=False)

    def url(self, indexes: Optional[list[int]] = None, query: str = '') -> str:
        """A transport URL naming our nodes (all, or ``indexes``) in order."""
        chosen = range(len(self.ports)) if indexes is None else indexes
        hosts = ','.join('%s:%s@127.0.0.1:%d' % (USER, PASSWORD, self.ports[i])
                         for i in chosen)
        return 'rabbit://%s/%s' % (hosts, ('?' + query) if query else '')

    def ctl(self, node: int, *args: str, timeout: float = 60) -> str:
        """Run ``rabbitmqctl -n <node> args...``; returns its stdout."""
        env = dict(os.environ, **self._driver.env)
        env['PATH'] = ':'.join(_SBIN + [env.get('PATH', '')])
        done = subprocess.run(['rabbitmqctl', '-n', self.nodes[node], *args],
                              env=env, capture_output=True, text=True,
                              timeout=timeout)
        if done.returncode:
            raise RuntimeError('rabbitmqctl %s on %s failed: %s'
                               % (' '.join(args), self.nodes[node],
                                  done.stderr.strip() or done.stdout.strip()))
        return done.stdout

    def stop_app(self, node: int) -> None:
        """Stop RabbitMQ on ``node`` (the Erlang VM stays): its clients are cut."""
        self.ctl(node, 'stop_app')

    def start_app(self, node: int) -> None:
        """Start RabbitMQ again on a node stopped with ``stop_app``."""
        self.ctl(node, 'start_app')
        self.ctl(node, 'await_startup')

    def close_all_connections(self, node: int = 0, reason: str = 'test') -> None:
        self.ctl(node, 'close_all_connections', reason)
