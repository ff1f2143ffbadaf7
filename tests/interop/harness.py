"""Run interop participants and await what they report.

A participant is either an :class:`OsloPeer` (a role of peer_roles.py run by
oslo_peer.py under the oslo.messaging interpreter) or a :class:`LocalPeer`
(the same role run in this process with ``messaging``). Both offer
``request(cmd)``, ``events`` and ``stop()``, so a test can swap the sides.
"""
from __future__ import annotations

import contextlib
import itertools
import json
import os
import subprocess
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Callable, Union

import pytest

from tests.functional.conftest import BrokerCleanup

INTEROP_DIR = Path(__file__).resolve().parent
PEER_SCRIPT = INTEROP_DIR / 'oslo_peer.py'
PEER_START_TIMEOUT = 30
REQUEST_TIMEOUT = 30
STOP_TIMEOUT = 20

Match = Union[dict, Callable[[dict], bool]]

# The [oslo_messaging_rabbit] options Kolla-Ansible renders for every service
# today (2025.1 on), with the prefetch count both libraries require for
# stream fanout. The queue manager's hostname is unique to the run, so that
# its counter (/dev/shm/<hostname>_<processname>_qmanager) and the names it
# makes are the run's own; its lock lives in a directory of the run's
# (OSLO_LOCK_PATH, read by both libraries).
RUN_HOSTNAME = 'interop-%s' % uuid.uuid4().hex[:8]
KOLLA_QUERY = ('rabbit_quorum_queue=true&rabbit_transient_quorum_queue=true'
               '&rabbit_stream_fanout=true&use_queue_manager=true'
               '&rabbit_qos_prefetch_count=1&hostname=' + RUN_HOSTNAME)
CONFIGURATIONS = {'classic': '', 'kolla': KOLLA_QUERY}
# Put on a module (pytestmark) whose tests run under both configurations:
# its module fixtures, peers included, start once per configuration.
under_both_configurations = pytest.mark.parametrize(
    'configuration', list(CONFIGURATIONS), indirect=True, scope='module')


def with_query(url: str, query: str) -> str:
    """``url`` with ``query`` ([oslo_messaging_rabbit] options) appended."""
    if not query:
        return url
    return url + ('&' if '?' in url else '?') + query


def unique_name(prefix: str) -> str:
    """A broker name no other test or run uses."""
    return 'interop_%s_%s' % (prefix, uuid.uuid4().hex[:10])


def _matches(event: dict, match: Match) -> bool:
    if callable(match):
        return match(event)
    return all(event.get(key) == value for key, value in match.items())


class EventLog:
    """Events reported by one participant, awaited with a deadline."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._events: list[dict] = []
        self._cond = threading.Condition()
        self.describe_source: Callable[[], str] = lambda: ''
        self.mirrors: list[EventLog] = []

    def add(self, event: dict) -> None:
        with self._cond:
            self._events.append(event)
            self._cond.notify_all()
        for mirror in list(self.mirrors):
            mirror.add(event)

    def find(self, match: Match) -> list[dict]:
        """The unclaimed events that match, right now (no waiting)."""
        with self._cond:
            return [e for e in self._events if _matches(e, match)]

    def take(self, match: Match, timeout: float = REQUEST_TIMEOUT) -> dict:
        """Remove and return the first event that matches, waiting up to ``timeout``."""
        return self.take_many(match, 1, timeout)[0]

    def take_many(self, match: Match, count: int,
                  timeout: float = REQUEST_TIMEOUT) -> list[dict]:
        """Remove and return ``count`` matching events, waiting up to ``timeout``."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [e for e in self._events if _matches(e, match)][:count]
                if len(found) == count:
                    for event in found:
                        self._events.remove(event)
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        '%s: %d of %d events matching %r within %ss; unclaimed '
                        'events: %r%s' % (self.name, len(found), count, match, timeout,
                                          self._events[-10:], self.describe_source()))
                self._cond.wait(remaining)


@contextlib.contextmanager
def merged(*logs: EventLog):
    """An EventLog that also gets every event added to ``logs`` meanwhile,
    to await events that may come from either of several participants."""
    log = EventLog(' + '.join(source.name for source in logs))
    for source in logs:
        source.mirrors.append(log)
    try:
        yield log
    finally:
        for source in logs:
            source.mirrors.remove(log)


class OsloPeer:
    """A peer_roles role played by oslo.messaging in its own process."""

    library = 'oslo.messaging'

    def __init__(self, python: str, role: str, config: dict) -> None:
        self.role = role
        self.events = EventLog('oslo %s' % role)
        self.events.describe_source = self._stderr_tail
        self._ids = itertools.count(1)
        self._stderr = tempfile.TemporaryFile(mode='w+', prefix='oslo_peer_')
        # Only this directory goes on the peer's path: it must not see
        # ``messaging`` (the peer is oslo.messaging, nothing else).
        env = dict(os.environ, PYTHONPATH=str(INTEROP_DIR), PYTHONUNBUFFERED='1')
        self._proc = subprocess.Popen(
            [python, str(PEER_SCRIPT), role, json.dumps(config)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr,
            env=env, text=True, encoding='utf-8')
        self._reader = threading.Thread(target=self._read, daemon=True,
                                        name='oslo-peer-%s' % role)
        self._reader.start()
        try:
            self.ready = self._take_or_exit({'event': 'ready'}, PEER_START_TIMEOUT)
        except AssertionError:
            self.kill()
            raise

    def _read(self) -> None:
        for line in self._proc.stdout:
            try:
                self.events.add(json.loads(line))
            except ValueError:
                self.events.add({'event': 'output', 'line': line})
        self.events.add({'event': 'exited'})

    def _stderr_tail(self) -> str:
        self._stderr.seek(0)
        lines = [line for line in self._stderr.read().splitlines()
                 if 'ventlet' not in line]
        return '\n--- oslo peer stderr (tail) ---\n' + '\n'.join(lines[-30:])

    def request(self, cmd: dict, timeout: float = REQUEST_TIMEOUT) -> dict:
        """Send a command and return the peer's reply event."""
        if self._proc.poll() is not None:
            raise AssertionError('oslo %s peer exited with %s%s' % (
                self.role, self._proc.returncode, self._stderr_tail()))
        cmd = dict(cmd, id=next(self._ids))
        self._proc.stdin.write(json.dumps(cmd) + '\n')
        self._proc.stdin.flush()
        return self._take_or_exit({'id': cmd['id']}, timeout)

    def _take_or_exit(self, match: dict, timeout: float) -> dict:
        """The matching event; fails at once if the peer exits first."""
        event = self.events.take(lambda e: _matches(e, match) or e['event'] == 'exited',
                                 timeout)
        if event['event'] == 'exited':
            raise AssertionError('oslo %s peer exited (waiting for %r)%s'
                                 % (self.role, match, self._stderr_tail()))
        return event

    def stop(self) -> None:
        """Stop the role cleanly (stdin EOF); kill the process if it hangs."""
        if self._proc.poll() is None:
            try:
                self._proc.stdin.write('stop\n')
                self._proc.stdin.close()
                self._proc.wait(STOP_TIMEOUT)
            except (OSError, subprocess.TimeoutExpired):
                self.kill()
                raise AssertionError('oslo %s peer did not stop within %ss%s'
                                     % (self.role, STOP_TIMEOUT, self._stderr_tail()))
        self._reader.join(STOP_TIMEOUT)
        self._stderr.close()

    def kill(self) -> None:
        self._proc.kill()
        self._proc.wait(STOP_TIMEOUT)


class LocalPeer:
    """A peer_roles role played by ``messaging`` in this process."""

    library = 'messaging'

    def __init__(self, role: str, config: dict) -> None:
        import messaging
        import peer_roles

        self.role = role
        self.events = EventLog('messaging %s' % role)
        self._role = peer_roles.ROLES[role](messaging, self.events.add, config)

    def request(self, cmd: dict, timeout: float = REQUEST_TIMEOUT) -> dict:
        """Run a command; ``timeout`` is the peer's business (calls carry their own)."""
        return self._role.handle(cmd)

    def stop(self) -> None:
        self._role.stop()


Peer = Union[OsloPeer, LocalPeer]


class PeerGroup:
    """Participants of one test or module, stopped together, then cleaned up.

    Reply queues of RPC clients are looked up before the clients stop, and
    everything registered with ``cleanup`` is deleted once all have stopped.
    """

    def __init__(self, oslo_python: str, url: str) -> None:
        self.oslo_python = oslo_python
        self.url = url
        # The query holds options of the libraries, not of the cleanup's kombu.
        self.cleanup = BrokerCleanup(url.split('?', 1)[0])
        self._peers: list[Peer] = []

    def start(self, library: str, role: str, config: dict) -> Peer:
        """Start ``role`` with ``library`` ('oslo' or 'ours'); url is filled in."""
        config = dict(config, url=config.get('url', self.url))
        if library == 'oslo':
            peer = OsloPeer(self.oslo_python, role, config)
        else:
            peer = LocalPeer(role, config)
        self._peers.append(peer)
        return peer

    def stop(self, peer: Peer) -> None:
        """Stop one participant now; an RPC client's reply queues go to cleanup."""
        self._peers.remove(peer)
        try:
            if peer.role == 'rpc-client':
                for queue in peer.request({'op': 'reply_queues'})['queues']:
                    self.cleanup.queue(queue)
        finally:
            peer.stop()

    def close(self) -> None:
        """Stop every participant still running, then delete what was registered."""
        errors = []
        for peer in reversed(list(self._peers)):
            try:
                self.stop(peer)
            except Exception as ex:
                errors.append('%s %s: %s' % (peer.library, peer.role, ex))
        self.cleanup.run()
        if errors:
            raise AssertionError('; '.join(errors))
