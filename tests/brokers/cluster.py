"""A three-node RabbitMQ cluster whose nodes can be cut off from each other.

Each node runs in network, PID and mount namespaces of its own: RabbitMQ
4.x from the cached Debian root of its series (debian_root.py), RabbitMQ
3.10 from the machine's own installation (series ``'3.10'``). The nodes
reach each other on a cluster network and are named after their address
there (``rabbit@10.99.0.11``, long names); the tests' clients reach node
``i`` at ``hosts[i]:ports[i]`` on a client network (netns.py).

``partition(i)`` cuts node ``i`` off from the other two, silently, as a
failed switch would, while its clients still reach it (with
``clients=True`` nothing reaches it); ``heal(i)`` undoes it. Nothing else
differs from a three-host cluster: each node has its own epmd, cookie file
(the same cookie), data directory and configuration
(``cluster_partition_handling``, a short ``net_ticktime`` so that a cut is
noticed within seconds). Nodes 1 and 2 join node 0 with ``rabbitmqctl
join_cluster`` (after ``stop_app`` and ``reset``), as an operator would.

``stop()`` kills every process of every node (each dies with its PID
namespace), deletes the namespaces (and with them the veth pairs and
bridges) and the nodes' directories. A cluster whose owning process died
without ``stop()`` is cleaned up by the next ``start()`` on the machine.

Needs root (network namespaces), ``ip`` (iproute2), ``nsenter`` and
``unshare``.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Optional

from tests.brokers import debian_root, netns
from tests.brokers.rabbitmq4 import start_time

LOG = logging.getLogger(__name__)

USER = 'guest'
PASSWORD = 'guest'
SBIN = '/usr/lib/rabbitmq/bin'
HOST_SERIES = '3.10'
START_TIMEOUT = 240
STOP_TIMEOUT = 30
DIST_PORT = 25672
# AMQP port of node i: distinct, so that a connection's port names its node.
AMQP_PORTS = (5681, 5682, 5683)
STATE_DIR = Path(tempfile.gettempdir()) / 'messaging-clusters'
# Names the series of the cluster fault tests' clusters (tests/faults/conftest.py).
SERIES_ENV = 'MESSAGING_TEST_CLUSTER_SERIES'


def cluster_support() -> Optional[str]:
    """Why a ``Cluster`` cannot run on this machine, or None if it can."""
    if os.geteuid() != 0:
        return 'network namespaces need root'
    missing = [tool for tool in ('ip', 'nsenter', 'unshare') if shutil.which(tool) is None]
    if missing:
        return 'missing %s' % ', '.join(missing)
    return None


class Cluster:
    """Three RabbitMQ nodes of ``series`` clustered over namespaces of their own.

    The interface of ``tests.faults.rabbit_nodes.RabbitNodes``: ``nodes[i]``
    is node ``i``'s name, ``ports[i]`` its AMQP port (at ``hosts[i]``),
    ``url()``, ``ctl()``, ``stop_app()``, ``start_app()``,
    ``close_all_connections()``, ``start()``, ``stop()``; and
    ``partition(i)`` / ``heal(i)``.
    """

    cluster = True

    def __init__(self, series: str = '4.3', net_ticktime: int = 10,
                 partition_handling: str = 'pause_minority') -> None:
        if series != HOST_SERIES and series not in debian_root.SERIES:
            raise ValueError('no RabbitMQ series %r (have %s)' % (
                series, ', '.join([HOST_SERIES, *debian_root.SERIES])))
        self.series = series
        self.net_ticktime = net_ticktime
        self.partition_handling = partition_handling
        self.id = uuid.uuid4().hex[:6]
        self.nodes = ['rabbit@%s' % netns.cluster_address(i) for i in range(3)]
        self.ports = list(AMQP_PORTS)
        self.hosts: list[str] = []
        self._network = netns.Network(self.id, 3)
        self._state_file = STATE_DIR / ('%s.json' % self.id)
        self._procs: list[subprocess.Popen] = []
        self._inits: list[int] = []
        if series == HOST_SERIES:
            self._root: Optional[Path] = None
            self._base = Path(tempfile.gettempdir()) / ('messaging-cluster-%s' % self.id)
        else:
            self._root = debian_root.root_path(series)
            self._base = self._root / 'var/lib/messaging-nodes' / ('cluster-%s' % self.id)

    # -- where things are ---------------------------------------------------
    def _home(self, node: int) -> str:
        """Node ``node``'s directory, as the node sees it."""
        path = self._base / ('n%d' % node)
        if self._root is None:
            return str(path)
        return '/' + str(path.relative_to(self._root))

    def _home_on_host(self, node: int) -> Path:
        return self._base / ('n%d' % node)

    def _env(self, node: int) -> list[str]:
        home = self._home(node)
        return ['env', '-i', 'PATH=%s:/usr/sbin:/usr/bin:/sbin:/bin' % SBIN, 'LANG=C.UTF-8',
                'HOME=%s' % home, 'RABBITMQ_NODENAME=%s' % self.nodes[node],
                'RABBITMQ_USE_LONGNAME=true',
                'RABBITMQ_NODE_IP_ADDRESS=%s' % self.hosts[node],
                'RABBITMQ_NODE_PORT=%d' % self.ports[node],
                'RABBITMQ_DIST_PORT=%d' % DIST_PORT,
                'RABBITMQ_CONFIG_FILE=%s/rabbitmq.conf' % home,
                'RABBITMQ_ADVANCED_CONFIG_FILE=%s/advanced.config' % home,
                'RABBITMQ_CONF_ENV_FILE=/dev/null',
                'RABBITMQ_MNESIA_BASE=%s/mnesia' % home,
                'RABBITMQ_LOG_BASE=%s/log' % home,
                'RABBITMQ_PID_FILE=%s/node.pid' % home,
                'RABBITMQ_ENABLED_PLUGINS_FILE=%s/enabled_plugins' % home]

    def partition(self, node: int, clients: bool = False) -> None:
        """Cut node ``node`` off from the other two; with ``clients`` from
        its clients too, else they still reach it."""
        self._network.cut(node, clients)

    def heal(self, node: int) -> None:
        """Undo ``partition(node)``."""
        self._network.heal(node)

    # -- lifecycle ------------------------------------------------------------
    def start(self) -> 'Cluster':
        """Make the network, start the three nodes, cluster them; wait until
        every node runs in the cluster and accepts AMQP connections."""
        reason = cluster_support()
        if reason:
            raise RuntimeError('cannot start a RabbitMQ cluster here: %s' % reason)
        remove_orphans()
        if self._root is not None:
            debian_root.build(self.series)
        STATE_DIR.mkdir(parents=True, exist_ok=True)
        self._state_file.write_text(json.dumps({
            'owner': os.getpid(), 'owner_start': start_time(os.getpid()),
            'namespaces': [self._network.hub, *self._network.namespaces],
            'base': str(self._base)}))
        try:
            self.hosts = self._network.create()
            cookie = uuid.uuid4().hex.upper()
            for i in range(3):
                self._write_home(i, cookie)
            self._procs = [self._spawn(i) for i in range(3)]
            self._inits = [self._init_pid(proc) for proc in self._procs]
            for i in range(3):
                self._await_node(i)
            for i in (1, 2):
                self.ctl(i, 'stop_app')
                self.ctl(i, 'reset')
                self.ctl(i, 'join_cluster', self.nodes[0])
                self.ctl(i, 'start_app')
            for i in range(3):
                self.ctl(i, 'await_startup', '--timeout', str(START_TIMEOUT),
                         timeout=START_TIMEOUT + 10)
            self.await_running(range(3), START_TIMEOUT)
        except BaseException:
            self.stop()
            raise
        return self

    def _write_home(self, node: int, cookie: str) -> None:
        home = self._home_on_host(node)
        home.mkdir(parents=True)
        (home / 'enabled_plugins').write_text('[].\n')
        cookie_file = home / '.erlang.cookie'
        cookie_file.write_text(cookie)
        cookie_file.chmod(0o400)
        (home / 'rabbitmq.conf').write_text(
            'loopback_users = none\n'
            'cluster_partition_handling = %s\n'
            'net_ticktime = %d\n' % (self.partition_handling, self.net_ticktime))

    def _spawn(self, node: int) -> subprocess.Popen:
        argv = self._env(node) + [SBIN + '/rabbitmq-server']
        if self._root is None:
            argv = ['unshare', '--mount', '--pid', '--fork', '--kill-child', '--mount-proc',
                    *argv]
        else:
            argv = debian_root.in_root_command(self._root, argv)
        output = open(self._home_on_host(node) / 'output.log', 'w')
        with output:
            return subprocess.Popen(
                ['nsenter', '--net=/run/netns/%s' % self._network.namespaces[node], *argv],
                stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT,
                start_new_session=True)

    def _init_pid(self, proc: subprocess.Popen) -> int:
        """The first process of the node's PID namespace (``unshare``'s child)."""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                path = Path('/proc/%d/task/%d/children' % (proc.pid, proc.pid))
                return int(path.read_text().split()[0])
            except (OSError, IndexError, ValueError):
                if proc.poll() is not None:
                    break
                time.sleep(0.05)
        raise RuntimeError('a RabbitMQ %s node did not start' % self.series)

    def _await_node(self, node: int) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                self.ctl(node, 'await_startup', '--timeout', '20', timeout=40)
                return
            except (RuntimeError, subprocess.TimeoutExpired) as ex:
                if self._procs[node].poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError('RabbitMQ %s node %s did not start: %s\n%s' % (
                        self.series, self.nodes[node], ex, self.output_tail(node))) from ex
            time.sleep(1)

    def connected(self, via: int, node: int) -> bool:
        """Whether node ``via``'s Erlang distribution is connected to node
        ``node`` (asked of ``via`` alone: cluster_status, which asks every
        node, can take half a minute while one does not answer)."""
        return self.ctl(via, 'eval', "lists:member('%s', nodes())." % self.nodes[node]
                        ).strip() == 'true'

    def running_nodes(self, via: int) -> list[str]:
        """The nodes ``via`` sees running in its cluster."""
        status = json.loads(self.ctl(via, 'cluster_status', '--formatter', 'json'))
        return sorted(status['running_nodes'])

    def await_running(self, nodes: 'range | list[int]', timeout: float) -> None:
        """Wait until each of ``nodes`` runs and sees all three nodes running
        (a paused node answers no cluster_status: it is asked again)."""
        deadline = time.monotonic() + timeout
        for via in nodes:
            while True:
                try:
                    seen: object = self.running_nodes(via)
                except (RuntimeError, subprocess.TimeoutExpired) as ex:
                    seen = ex
                if seen == sorted(self.nodes):
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError('%s is not back in its cluster: %s' % (
                        self.nodes[via], seen))
                time.sleep(0.5)

    def await_healed(self, timeout: float) -> list[int]:
        """Wait until all three nodes run in one cluster again after a heal;
        returns the nodes whose app had to be restarted for it.

        RabbitMQ 3.x's ``pause_minority`` does not always bring a node back
        by itself: a node can stay paused, or its Mnesia partitioned, after
        the network is whole (seen once in CI on 3.10, for over 120 s, where
        it usually takes 6 s; rabbitmq-server issues 2175 and 17319 describe
        such cases). That is the broker's recovery, not the clients' under
        test: after half of ``timeout``, each node that does not run in the
        largest group of running nodes, or cannot tell its own view (its app
        is not running, though the others may still count it), is restarted
        as an operator would (``stop_app``, ``start_app``), with a WARNING
        that shows its log."""
        try:
            self.await_running(range(3), timeout / 2)
            return []
        except RuntimeError as ex:
            LOG.warning('The cluster is not whole %.0f s after the heal (%s)', timeout / 2, ex)
        views = {}
        for via in range(3):
            try:
                views[via] = self.running_nodes(via)
            except (RuntimeError, subprocess.TimeoutExpired):
                pass
        majority = max(views.values(), key=len, default=[])
        stuck = [i for i in range(3) if i not in views or self.nodes[i] not in majority]
        for node in stuck:
            LOG.warning('Restarting the app of %s, not running in %s; its log ends:\n%s',
                        self.nodes[node], majority, self.log_tail(node))
            self.ctl(node, 'stop_app', timeout=timeout / 4)
            self.ctl(node, 'start_app', timeout=timeout / 4)
        self.await_running(range(3), timeout / 2)
        return stuck

    def log_tail(self, node: int, lines: int = 40) -> str:
        """The end of node ``node``'s RabbitMQ log."""
        try:
            text = (self._home_on_host(node) / 'log' / ('%s.log' % self.nodes[node])).read_text()
        except OSError:
            return '(no log)'
        return '\n'.join(text.splitlines()[-lines:])

    def output_tail(self, node: int, lines: int = 30) -> str:
        """The end of node ``node``'s console output."""
        try:
            text = (self._home_on_host(node) / 'output.log').read_text()
        except OSError:
            return '(no output)'
        return '\n'.join(text.splitlines()[-lines:])

    def stop(self) -> None:
        """Kill every process of the cluster, delete its namespaces and files."""
        for proc in self._procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)  # unshare: its child dies with it
        for proc in self._procs:
            proc.wait(STOP_TIMEOUT)
        _remove(self._network.hub, self._network.namespaces, self._base)
        if self._state_file.exists():
            self._state_file.unlink()

    # -- control ----------------------------------------------------------
    def url(self, indexes: Optional[list[int]] = None, query: str = '') -> str:
        """A transport URL naming our nodes (all, or ``indexes``) in order."""
        chosen = range(3) if indexes is None else indexes
        hosts = ','.join('%s:%s@%s:%d' % (USER, PASSWORD, self.hosts[i], self.ports[i])
                         for i in chosen)
        return 'rabbit://%s/%s' % (hosts, ('?' + query) if query else '')

    def ctl_command(self, node: int) -> list[str]:
        """The argv of node ``node``'s ``rabbitmqctl``, in its namespaces."""
        enter = ['nsenter', '-t', str(self._inits[node]), '-m', '-p', '-n', '--']
        if self._root is not None:
            enter += ['chroot', str(self._root)]
        return enter + self._env(node) + [SBIN + '/rabbitmqctl', '--longnames',
                                          '-n', self.nodes[node]]

    def ctl(self, node: int, *args: str, timeout: float = 60) -> str:
        """Run ``rabbitmqctl -n <node> args...``; returns its stdout."""
        done = subprocess.run([*self.ctl_command(node), '-q', *args], capture_output=True,
                              text=True, timeout=timeout)
        if done.returncode:
            raise RuntimeError('rabbitmqctl %s on %s failed: %s' % (
                ' '.join(args), self.nodes[node],
                (done.stderr or done.stdout).strip()[-1500:]))
        return done.stdout

    def stop_app(self, node: int) -> None:
        """Stop RabbitMQ on ``node`` (the Erlang VM stays): its clients are cut."""
        self.ctl(node, 'stop_app')

    def start_app(self, node: int) -> None:
        """Start RabbitMQ again on a node stopped with ``stop_app``."""
        self.ctl(node, 'start_app', timeout=START_TIMEOUT)
        self.ctl(node, 'await_startup', timeout=START_TIMEOUT)

    def close_all_connections(self, node: int = 0, reason: str = 'test') -> None:
        """Close every client connection of ``node``."""
        self.ctl(node, 'close_all_connections', reason)


def _remove(hub: str, namespaces: list[str], base: Path) -> None:
    netns.remove(hub, namespaces)
    if base.exists():
        subprocess.run(['rm', '-rf', '--one-file-system', str(base)], check=True)


def remove_orphans() -> None:
    """Remove the clusters whose owning process ended without stopping them."""
    if not STATE_DIR.exists():
        return
    for state_file in STATE_DIR.glob('*.json'):
        try:
            state = json.loads(state_file.read_text())
        except (OSError, ValueError):
            continue
        if start_time(state['owner']) == state['owner_start']:
            continue
        hub, *namespaces = state['namespaces']
        _remove(hub, namespaces, Path(state['base']))
        state_file.unlink()
