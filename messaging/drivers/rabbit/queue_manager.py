"""Stable reply and fanout queue names (``use_queue_manager``).

With the queue manager, a process names its reply queue
``reply_<hostname>:<processname>:<n>`` and its fanout queues
``<topic>_fanout_<hostname>:<processname>:<n>`` instead of random names, so
that a restarted service takes up the queues it had (no queue churn on the
broker at scale).

``n`` comes from a counter shared by every process of one service
generation on a host, kept where oslo.messaging keeps it so that its
processes and ours draw from the same counter and never get the same name:

- the file ``/dev/shm/<hostname>_<processname>_qmanager`` holds
  ``<process group>:<counter>:<start time of the group leader>``;
- it is read and written under the inter-process lock file
  ``<lock_path>/oslo_read_shm_<hostname>_<processname>`` (a POSIX
  ``lockf`` lock, as oslo.concurrency's external locks take it), where
  ``lock_path`` is ``[oslo_concurrency] lock_path`` or ``OSLO_LOCK_PATH``;
- the counter goes on while the process group (the service's master and
  its workers) is the same one and starts again at 1 when it differs: the
  service was restarted, and takes the same names again.
"""
from __future__ import annotations

import fcntl
import os
import threading
from typing import Any, Optional

from oslo_config import cfg

from messaging.drivers.rabbit.declarations import InvalidRabbitConfig
from messaging import log_names

LOG = log_names.get_logger(__name__)

COUNTER_DIR = '/dev/shm'
LOCK_PATH_ENV = 'OSLO_LOCK_PATH'
# Field of /proc/<pid>/stat with the start time (clock ticks after boot),
# counted over a plain whitespace split as oslo.messaging counts it, so that
# both compute the same identity even for a command name with a space.
_START_TIME_FIELD = 21

# POSIX locks are held per process: threads of one process take this first.
_THREAD_LOCK = threading.Lock()
_LEADERLESS_GROUPS_WARNED: set = set()


def find_lock_path(conf: Any) -> Optional[str]:
    """``[oslo_concurrency] lock_path`` of ``conf`` or of the global
    configuration, else ``$OSLO_LOCK_PATH``; None when none is set."""
    for source in (conf, cfg.CONF):
        try:
            path = source.oslo_concurrency.lock_path
        except (cfg.NoSuchOptError, cfg.NoSuchGroupError, AttributeError):
            continue
        if path:
            return path
    return os.environ.get(LOCK_PATH_ENV) or None


def from_options(options: Any, conf: Any) -> Optional['QueueManager']:
    """The transport's queue manager when ``use_queue_manager`` is set, else None.

    :param options: the transport's view of ``[oslo_messaging_rabbit]``.
    :param conf: its ConfigOpts, where ``[oslo_concurrency] lock_path`` may be.
    :raises InvalidRabbitConfig: no lock path to share the counter under.
    """
    if not options.use_queue_manager:
        return None
    lock_path = find_lock_path(conf)
    if not lock_path:
        raise InvalidRabbitConfig(
            'use_queue_manager=true needs a directory for the lock that guards the '
            'queue name counter shared by the processes of this host, as '
            'oslo.messaging does: set [oslo_concurrency] lock_path or the %s '
            'environment variable' % LOCK_PATH_ENV)
    return QueueManager(options.hostname, options.processname, lock_path)


def service_identity() -> tuple[int, int]:
    """``(process group, start time of its leader)``: one service generation.

    Read at each name, not once: a supervisor may move its processes to a
    new group (``setsid``) after the transport was created.
    """
    group = os.getpgrp()
    # A process without a group of its own (group 0) is its own identity.
    try:
        with open('/proc/%d/stat' % (group or os.getpid())) as stat:
            start_time = int(stat.read().split()[_START_TIME_FIELD])
    except FileNotFoundError:
        # The group's leader has exited (oslo.messaging fails here). The
        # group alone still tells this generation's processes apart from
        # the next one's, which a supervisor starts in a new group.
        _warn_leaderless_group(group)
        start_time = 0
    return group, start_time


def _warn_leaderless_group(group: int) -> None:
    if group not in _LEADERLESS_GROUPS_WARNED:
        _LEADERLESS_GROUPS_WARNED.add(group)
        LOG.warning('The leader of process group %d has exited: queue manager names '
                    'are counted for the group alone. Start the service with its '
                    'master process as the group leader (as service managers do) so '
                    'that oslo.messaging processes on this host can share the counter',
                    group)


class QueueManager:
    """Hands out ``<hostname>:<processname>:<n>`` names from the host's counter.

    :param lock_path: directory of the inter-process lock file.
    """

    def __init__(self, hostname: str, processname: str, lock_path: str) -> None:
        self.hostname = hostname
        self.processname = processname
        self.counter_file = os.path.join(COUNTER_DIR, '%s_%s_qmanager' % (hostname,
                                                                          processname))
        lock_name = ('oslo_read_shm_%s_%s' % (hostname, processname)).replace(os.sep, '_')
        self.lock_file = os.path.join(lock_path, lock_name)

    def next_name(self) -> str:
        """The next name for a reply or fanout queue of this process."""
        with _THREAD_LOCK, open(self.lock_file, 'a') as lock:
            fcntl.lockf(lock, fcntl.LOCK_EX)
            try:
                counter = self._advance()
            finally:
                fcntl.lockf(lock, fcntl.LOCK_UN)
        name = '%s:%s:%d' % (self.hostname, self.processname, counter)
        LOG.debug('Queue manager name %s (counter %s)', name, self.counter_file)
        return name

    def _advance(self) -> int:
        """Count one more name of this service generation, or start again at 1."""
        identity = service_identity()
        counter = 0
        try:
            with open(self.counter_file) as stored:
                group, value, start_time = stored.readline().split(':')
            if (int(group), int(start_time)) == identity:
                counter = int(value)
        except (FileNotFoundError, ValueError):
            pass
        counter += 1
        with open(self.counter_file, 'w') as stored:
            stored.write('%d:%d:%d' % (identity[0], counter, identity[1]))
        return counter
