"""A Debian root directory holding a newer RabbitMQ, built once and cached.

Debian 12 packages RabbitMQ 3.10. RabbitMQ 4.x is packaged for later
Debian suites, whose Erlang needs a newer libc than Debian 12's, so it runs
from a root directory of that suite (``debootstrap --variant=minbase``, then
``apt-get install rabbitmq-server`` inside it), entered with ``chroot``.

Roots live under ``MESSAGING_RABBITMQ4_CACHE`` (default
``/var/cache/messaging-rabbitmq4``), one per RabbitMQ series, and are
reused by every later run on the machine. A build goes to ``rootfs.new``
and is renamed to ``rootfs`` only once complete, under a file lock, so two
runs starting together build it once and a killed build is started again.

Everything that runs inside a root (the build's apt-get, the node, its
``rabbitmqctl``) runs in a mount namespace of its own with ``/proc`` and
``/dev`` mounted there: the mounts go away with the last process, never
leaking onto the machine or in the way of ``rm -rf``.
"""
from __future__ import annotations

import fcntl
import glob
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

CACHE_ENV = 'MESSAGING_RABBITMQ4_CACHE'
MIRROR_ENV = 'MESSAGING_RABBITMQ4_MIRROR'
DEFAULT_CACHE = '/var/cache/messaging-rabbitmq4'
DEFAULT_MIRROR = 'http://deb.debian.org/debian'
BUILD_TIMEOUT = 1200


@dataclass(frozen=True)
class Series:
    """A RabbitMQ series and the Debian suite that packages it."""

    version: str
    suite: str


SERIES = {'4.3': Series('4.3', 'sid'), '4.0': Series('4.0', 'trixie')}

# Inside the root: the mirror's snapshot may carry an expired Valid-Until, and
# no package's maintainer script may start a service while we install.
_APT_CONF = 'Acquire::Check-Valid-Until "false";\nAcquire::Check-Date "false";\n'
_POLICY_RC = '#!/bin/sh\nexit 101\n'
_HOSTS = '127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n'


def cache_root() -> Path:
    return Path(os.environ.get(CACHE_ENV, DEFAULT_CACHE))


def series_dir(version: str) -> Path:
    """Where everything of one series lives: the root, its lock, nodes' state."""
    return cache_root() / version


def debian_mirror() -> str:
    """The Debian mirror this machine's apt uses (``MESSAGING_RABBITMQ4_MIRROR``
    overrides it)."""
    if os.environ.get(MIRROR_ENV):
        return os.environ[MIRROR_ENV]
    for path in sorted(glob.glob('/etc/apt/sources.list.d/*.sources')):
        for uri in re.findall(r'^URIs:\s*(\S+)', Path(path).read_text(), re.M):
            if uri.rstrip('/').endswith('/debian'):
                return uri
    for path in ['/etc/apt/sources.list'] + sorted(glob.glob('/etc/apt/sources.list.d/*.list')):
        if os.path.exists(path):
            for uri in re.findall(r'^deb\s+(?:\[[^]]*\]\s+)?(\S+)', Path(path).read_text(), re.M):
                if uri.rstrip('/').endswith('/debian'):
                    return uri
    return DEFAULT_MIRROR


def in_root_command(root: Path, argv: list[str]) -> list[str]:
    """``argv`` run inside ``root``, in mount and PID namespaces of its own
    with ``/proc`` and ``/dev`` mounted; every process of it dies with the
    first one (or when the returned command is killed)."""
    script = ('mount -t proc proc "$0/proc" && mount --rbind /dev "$0/dev" '
              '&& exec chroot "$0" "$@"')
    return ['unshare', '--mount', '--pid', '--fork', '--kill-child',
            'sh', '-c', script, str(root), *argv]


def root_path(version: str) -> Path:
    return series_dir(version) / 'rootfs'


def installed_version(root: Path) -> str:
    """The rabbitmq-server package version installed in ``root``, or ''."""
    stamp = root / 'etc' / 'messaging-rabbitmq-version'
    return stamp.read_text().strip() if stamp.exists() else ''


def _run(argv: list[str], what: str, log) -> None:
    log('%s: %s' % (what, ' '.join(argv[:6]) + (' ...' if len(argv) > 6 else '')))
    done = subprocess.run(argv, capture_output=True, text=True, timeout=BUILD_TIMEOUT)
    if done.returncode:
        raise RuntimeError('%s failed (exit %d):\n%s' % (
            what, done.returncode, (done.stdout + done.stderr)[-3000:]))


def _build_into(target: Path, series: Series, log) -> None:
    mirror = debian_mirror()
    # debootstrap mounts /proc and /sys in the target while it works: in a
    # mount namespace of its own, a killed build leaves no mount behind.
    _run(['unshare', '--mount', 'debootstrap', '--variant=minbase', series.suite,
          str(target), mirror], 'debootstrap %s from %s' % (series.suite, mirror), log)
    (target / 'etc/apt/apt.conf.d/99messaging-snapshot').write_text(_APT_CONF)
    policy = target / 'usr/sbin/policy-rc.d'
    policy.write_text(_POLICY_RC)
    policy.chmod(0o755)
    (target / 'etc/hosts').write_text(_HOSTS)
    shutil.copyfile('/etc/resolv.conf', target / 'etc/resolv.conf')
    env = ['env', 'DEBIAN_FRONTEND=noninteractive', 'LANG=C.UTF-8']
    _run(in_root_command(target, env + ['apt-get', 'update', '-qq']), 'apt-get update', log)
    _run(in_root_command(target, env + ['apt-get', 'install', '-y', '-qq',
                                        '--no-install-recommends', 'rabbitmq-server']),
         'apt-get install rabbitmq-server', log)
    _run(in_root_command(target, ['apt-get', 'clean']), 'apt-get clean', log)
    version = subprocess.run(
        in_root_command(target, ['dpkg-query', '-W', '-f', '${Version}', 'rabbitmq-server']),
        capture_output=True, text=True, check=True).stdout.strip()
    if not version.startswith(series.version + '.'):
        raise RuntimeError('Debian %s now packages rabbitmq-server %s, not %s.x: '
                           'update SERIES in %s' % (series.suite, version, series.version,
                                                    __file__))
    (target / 'etc' / 'messaging-rabbitmq-version').write_text(version + '\n')


def build(version: str, log=print) -> Path:
    """The root of RabbitMQ ``version`` ('4.3', '4.0'), built if not cached."""
    series = SERIES[version]
    root = root_path(version)
    if installed_version(root):
        return root
    if shutil.which('debootstrap') is None:
        _run(['apt-get', 'install', '-y', '-qq', 'debootstrap'], 'apt-get install debootstrap',
             log)
    directory = series_dir(version)
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / 'build.lock', 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if installed_version(root):
            return root
        partial = directory / 'rootfs.new'
        for unfinished in (partial, root):
            if unfinished.exists():
                subprocess.run(['rm', '-rf', '--one-file-system', str(unfinished)], check=True)
        started = time.monotonic()
        _build_into(partial, series, log)
        partial.rename(root)
        log('built RabbitMQ %s (Debian %s) in %s in %.0f s'
            % (installed_version(root), series.suite, root, time.monotonic() - started))
    return root
