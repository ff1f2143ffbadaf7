"""A RabbitMQ 4.x node beside the machine's RabbitMQ 3.10, for running the suites on it.

::

    python3 tests/brokers/rabbitmq4.py build  --version 4.3
    python3 tests/brokers/rabbitmq4.py start  --version 4.3 [--deny-deprecated | --deny F ...]
    python3 tests/brokers/rabbitmq4.py status --version 4.3
    python3 tests/brokers/rabbitmq4.py stop   --version 4.3
    python3 tests/brokers/rabbitmq4.py run    --version 4.3 -- python3 -m pytest tests/functional

The node runs from a cached Debian root (debian_root.py) with AMQP,
distribution and epmd ports of its own (free ones, chosen at start), its
data, logs, Erlang cookie and configuration in a directory of its own,
in PID and mount namespaces of its own: ``stop`` ends every process of it
(beam, epmd, erl_child_setup) and removes its directory and state.

``start`` prints the two variables the functional and interop suites read:
``MESSAGING_TEST_RABBIT_URL`` (``rabbit://guest:guest@127.0.0.1:<port>/``;
guest may log in from loopback, the default) and
``MESSAGING_TEST_RABBITMQCTL``, a script running this node's
``rabbitmqctl``. ``run`` starts a node, runs a command with both set, and
stops the node however the command ends.

A node is one per series and per instance name, the default instance
being named after this worktree, so that runs from two worktrees do not
share a node. ``--deny F`` writes ``deprecated_features.permit.F = false``
to the node's configuration; ``--deny-deprecated`` does so for every
feature ``rabbitmqctl list_deprecated_features`` lists (asked once of a
plain node of the series, then cached beside its root).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional

if __package__ in (None, ''):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.brokers import debian_root  # noqa: E402
from tests.faults.rabbit_nodes import port_free  # noqa: E402

START_TIMEOUT = 180
STOP_TIMEOUT = 60
SBIN = '/usr/lib/rabbitmq/bin'
REPO = Path(__file__).resolve().parents[2]
DEPRECATED_FEATURES_FILE = 'deprecated-features.json'


def _default_instance() -> str:
    return 'w' + hashlib.sha1(str(REPO).encode()).hexdigest()[:8]


def _free_ports(count: int) -> list[int]:
    """``count`` consecutive free loopback ports in 30000-39999."""
    for _ in range(200):
        base = 30000 + int.from_bytes(os.urandom(2), 'big') % 9990
        ports = list(range(base, base + count))
        if all(port_free(port) for port in ports):
            return ports
    raise RuntimeError('no %d free consecutive ports for a RabbitMQ 4 node' % count)


def _answers(port: int) -> bool:
    try:
        socket.create_connection(('127.0.0.1', port), timeout=2).close()
    except OSError:
        return False
    return True


def start_time(pid: int) -> Optional[str]:
    """The kernel's start time of ``pid`` (to tell it from a reused pid), or None."""
    try:
        return Path('/proc/%d/stat' % pid).read_text().rsplit(')', 1)[1].split()[19]
    except (OSError, IndexError):
        return None


class Node:
    """One RabbitMQ node of a series (``'4.3'``, ``'4.0'``) and instance name."""

    def __init__(self, version: str, instance: Optional[str] = None) -> None:
        self.version = version
        self.instance = instance or _default_instance()
        self.name = 'msg4-%s@localhost' % self.instance
        self.root = debian_root.root_path(version)
        nodes = debian_root.series_dir(version) / 'nodes'
        self.state_file = nodes / ('%s.json' % self.instance)
        self.ctl_script = nodes / ('%s.rabbitmqctl' % self.instance)
        self.output_file = nodes / ('%s.out' % self.instance)
        # The node's own directory, as the node sees it (inside the root).
        self.home = '/var/lib/messaging-nodes/%s' % self.instance

    # -- state ------------------------------------------------------------
    def state(self) -> Optional[dict]:
        """What ``start`` recorded, if that node's process still runs."""
        try:
            state = json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return None
        if start_time(state['pid']) != state['start_time']:
            return None
        return state

    @property
    def url(self) -> str:
        state = self.state()
        if state is None:
            raise RuntimeError('RabbitMQ %s node %s is not running' % (self.version, self.name))
        return 'rabbit://guest:guest@127.0.0.1:%d/' % state['amqp_port']

    def environment(self) -> dict:
        """The variables that point the functional and interop suites at this node."""
        return {'MESSAGING_TEST_RABBIT_URL': self.url,
                'MESSAGING_TEST_RABBITMQCTL': str(self.ctl_script)}

    def _node_env(self, ports: dict) -> list[str]:
        home = self.home
        return ['env', '-i', 'PATH=%s:/usr/sbin:/usr/bin:/sbin:/bin' % SBIN, 'LANG=C.UTF-8',
                'HOME=%s' % home, 'ERL_EPMD_PORT=%d' % ports['epmd_port'],
                'RABBITMQ_NODENAME=%s' % self.name,
                'RABBITMQ_NODE_IP_ADDRESS=127.0.0.1',
                'RABBITMQ_NODE_PORT=%d' % ports['amqp_port'],
                'RABBITMQ_DIST_PORT=%d' % ports['dist_port'],
                'RABBITMQ_CONFIG_FILE=%s/rabbitmq.conf' % home,
                'RABBITMQ_CONF_ENV_FILE=/dev/null',
                'RABBITMQ_MNESIA_BASE=%s/mnesia' % home,
                'RABBITMQ_LOG_BASE=%s/log' % home,
                'RABBITMQ_PID_FILE=%s/node.pid' % home,
                'RABBITMQ_ENABLED_PLUGINS_FILE=%s/enabled_plugins' % home]

    # -- lifecycle --------------------------------------------------------
    def start(self, deny: tuple = ()) -> 'Node':
        """Start the node (building the root if needed) and wait until it answers."""
        if self.state() is not None:
            raise RuntimeError('RabbitMQ %s node %s already runs (%s): stop it first'
                               % (self.version, self.name, self.url))
        self._remove_leftovers()
        debian_root.build(self.version, log=lambda line: print(line, file=sys.stderr))
        amqp, dist, epmd = _free_ports(3)
        ports = {'amqp_port': amqp, 'dist_port': dist, 'epmd_port': epmd}
        home = self.root / self.home.lstrip('/')
        home.mkdir(parents=True)
        (home / 'enabled_plugins').write_text('[].\n')
        (home / 'rabbitmq.conf').write_text(''.join(
            'deprecated_features.permit.%s = false\n' % feature for feature in deny))
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        env = self._node_env(ports)
        with open(self.output_file, 'w') as output:
            proc = subprocess.Popen(
                debian_root.in_root_command(self.root, env + [SBIN + '/rabbitmq-server']),
                stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT,
                start_new_session=True)
        state = dict(ports, pid=proc.pid, start_time=start_time(proc.pid), node=self.name,
                     denied=list(deny))
        self.state_file.write_text(json.dumps(state, indent=1))
        try:
            self._write_ctl_script(env, proc.pid)
            self._await_startup(proc, amqp)
        except BaseException:
            self.stop()
            raise
        return self

    def _init_pid(self, unshare_pid: int) -> int:
        """The node's namespace's first process (the child of ``unshare``)."""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                children = Path('/proc/%d/task/%d/children' % (unshare_pid, unshare_pid))
                return int(children.read_text().split()[0])
            except (OSError, IndexError, ValueError):
                time.sleep(0.05)
        raise RuntimeError('the RabbitMQ %s node did not start: %s'
                           % (self.version, self.output_tail()))

    def _write_ctl_script(self, env: list[str], unshare_pid: int) -> None:
        """A ``rabbitmqctl`` of this node, run in its namespaces and root."""
        init = self._init_pid(unshare_pid)
        command = (['nsenter', '-t', str(init), '-m', '-p', '--', 'chroot', str(self.root)]
                   + env + [SBIN + '/rabbitmqctl', '-n', self.name])
        self.ctl_script.write_text(
            '#!/bin/sh\n# rabbitmqctl of the RabbitMQ %s node %s (tests/brokers/rabbitmq4.py)\n'
            'exec %s "$@"\n' % (self.version, self.name, shlex.join(command)))
        self.ctl_script.chmod(0o755)

    def _await_startup(self, proc: subprocess.Popen, port: int) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while not _answers(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError('the RabbitMQ %s node did not answer on %d: %s'
                                   % (self.version, port, self.output_tail()))
            time.sleep(0.5)
        self.ctl('await_startup', '--timeout', str(START_TIMEOUT))

    def ctl(self, *args: str, timeout: float = 60) -> str:
        """The output of this node's ``rabbitmqctl -q <args>`` (raises if it fails)."""
        done = subprocess.run([str(self.ctl_script), '-q', *args], capture_output=True,
                              text=True, timeout=timeout)
        if done.returncode:
            raise RuntimeError('rabbitmqctl %s on %s failed: %s' % (
                ' '.join(args), self.name, (done.stderr or done.stdout).strip()[-1500:]))
        return done.stdout

    def output_tail(self, lines: int = 30) -> str:
        try:
            return '\n'.join(self.output_file.read_text().splitlines()[-lines:])
        except OSError:
            return '(no output)'

    def stop(self) -> None:
        """Stop the node (asking it first), end all its processes, remove its files."""
        state = self.state()
        if state is not None:
            try:
                self.ctl('stop', timeout=STOP_TIMEOUT)
            except (RuntimeError, subprocess.TimeoutExpired):
                pass
            self._end(state['pid'], state['start_time'])
        self._remove_leftovers()

    @staticmethod
    def _end(pid: int, started: str) -> None:
        """Wait for ``unshare`` to end, killing it if it does not: its child,
        the namespace's first process, gets SIGKILL with it, and so does
        every other process of the namespace."""
        deadline = time.monotonic() + STOP_TIMEOUT
        while start_time(pid) == started:
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
            time.sleep(0.1)
            try:  # our child under ``run``: reap it, or it stays a zombie
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass

    def _remove_leftovers(self) -> None:
        home = self.root / self.home.lstrip('/')
        if home.exists():
            subprocess.run(['rm', '-rf', '--one-file-system', str(home)], check=True)
        for path in (self.state_file, self.ctl_script, self.output_file):
            if path.exists():
                path.unlink()

    # -- deprecated features ---------------------------------------------
    def deprecated_features(self) -> list[str]:
        """The deprecated features of this node's series (names), cached."""
        cached = debian_root.series_dir(self.version) / DEPRECATED_FEATURES_FILE
        if cached.exists():
            return json.loads(cached.read_text())
        probe = Node(self.version, self.instance + '-probe').start()
        try:
            listed = json.loads(probe.ctl('list_deprecated_features', 'name',
                                          '--formatter', 'json'))
        finally:
            probe.stop()
        names = sorted(entry['name'] for entry in listed)
        cached.write_text(json.dumps(names))
        return names


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n\n')[0],
        usage='%(prog)s ACTION --version V [options] [-- command for run]')
    parser.add_argument('action', choices=['build', 'start', 'stop', 'status', 'env', 'run'])
    parser.add_argument('--version', required=True, choices=sorted(debian_root.SERIES))
    parser.add_argument('--instance', help='node instance name (default: one per worktree)')
    parser.add_argument('--deny', action='append', default=[], metavar='FEATURE',
                        help='deprecated_features.permit.FEATURE = false (repeatable)')
    parser.add_argument('--deny-deprecated', action='store_true',
                        help='deny every deprecated feature the series lists')
    # run's command is everything after the first ``--``.
    split = argv.index('--') if '--' in argv else len(argv)
    args = parser.parse_args(argv[:split])
    args.command = argv[split + 1:]
    return args


def main(argv: Optional[list[str]] = None) -> int:
    args = _parse(sys.argv[1:] if argv is None else argv)
    node = Node(args.version, args.instance)
    if args.action == 'build':
        root = debian_root.build(args.version)
        print('RabbitMQ %s in %s' % (debian_root.installed_version(root), root))
        return 0
    if args.action == 'stop':
        node.stop()
        print('RabbitMQ %s node %s stopped' % (args.version, node.name))
        return 0
    if args.action in ('status', 'env'):
        if node.state() is None:
            print('RabbitMQ %s node %s is not running' % (args.version, node.name))
            return 1
        if args.action == 'env':
            for key, value in node.environment().items():
                print('export %s=%s' % (key, shlex.quote(value)))
            return 0
        print('RabbitMQ %s node %s runs: %s' % (
            debian_root.installed_version(node.root), node.name, node.url))
        print(node.ctl('status').strip()[:2000])
        return 0
    deny = list(args.deny)
    if args.deny_deprecated:
        deny += [name for name in node.deprecated_features() if name not in deny]
    if args.action == 'run' and not args.command:
        print('run needs a command after --', file=sys.stderr)
        return 2
    node.start(deny=tuple(deny))
    print('RabbitMQ %s node %s is up%s' % (
        debian_root.installed_version(node.root), node.name,
        ' (denied: %s)' % ', '.join(deny) if deny else ''), file=sys.stderr)
    if args.action == 'start':
        for key, value in node.environment().items():
            print('%s=%s' % (key, value))
        return 0
    try:
        return subprocess.run(args.command, env=dict(os.environ, **node.environment())).returncode
    finally:
        node.stop()


if __name__ == '__main__':
    sys.exit(main())
