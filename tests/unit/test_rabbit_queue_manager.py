"""The queue manager's names and its counter shared through /dev/shm."""
from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest
from oslo_config import cfg

from messaging.drivers.rabbit import driver as impl_rabbit
from messaging.drivers.rabbit import declarations, queue_manager
from messaging.drivers.rabbit.options import register_opts


@pytest.fixture(autouse=True)
def no_global_lock_path():
    """Ignore a lock path on the global cfg.CONF (oslo.concurrency registers
    one there when imported, from $OSLO_LOCK_PATH at that time)."""
    registered = 'oslo_concurrency' in cfg.CONF and 'lock_path' in cfg.CONF.oslo_concurrency
    if registered:
        cfg.CONF.set_override('lock_path', None, group='oslo_concurrency')
    yield
    if registered:
        cfg.CONF.clear_override('lock_path', group='oslo_concurrency')


LEADERLESS_PROBE = (
    'import os, sys, time\n'
    'deadline = time.monotonic() + 20\n'
    'while os.path.exists("/proc/%d" % os.getpgrp()) and time.monotonic() < deadline:\n'
    '    time.sleep(0.05)\n'
    'from messaging.drivers.rabbit import queue_manager\n'
    'print(queue_manager.service_identity() == (os.getpgrp(), 0))\n')


def test_a_group_whose_leader_exited_is_still_one_identity():
    # sh leads a new group and exits at once (reaped here, so no zombie keeps
    # its /proc entry), leaving the probe in a group without a leader. The
    # probe holds the pipe: reading it to its end awaits the probe's answer.
    # The identity is the group with start time 0.
    sh = subprocess.Popen(['sh', '-c', '"$0" -c "$1" &', sys.executable, LEADERLESS_PROBE],
                          start_new_session=True, stdout=subprocess.PIPE, text=True,
                          cwd=os.getcwd())
    sh.wait(timeout=10)
    answer = sh.stdout.read()
    sh.stdout.close()
    assert answer.strip().splitlines()[-1] == 'True'


@pytest.fixture
def manager(tmp_path):
    host = 'qm-test-%s' % uuid.uuid4().hex[:8]
    manager = queue_manager.QueueManager(host, 'proc', str(tmp_path))
    yield manager
    if os.path.exists(manager.counter_file):
        os.unlink(manager.counter_file)


def test_names_count_up_from_one_in_a_file_oslo_reads(manager):
    assert manager.next_name() == '%s:proc:1' % manager.hostname
    assert manager.next_name() == '%s:proc:2' % manager.hostname
    group, counter, start_time = open(manager.counter_file).read().split(':')
    assert (int(group), int(counter), int(start_time)) == (
        os.getpgrp(), 2, queue_manager.service_identity()[1])
    assert manager.counter_file == '/dev/shm/%s_proc_qmanager' % manager.hostname
    assert os.path.basename(manager.lock_file) == 'oslo_read_shm_%s_proc' % (
        manager.hostname)


def test_a_counter_of_another_service_generation_starts_over(manager):
    with open(manager.counter_file, 'w') as stored:
        stored.write('1:41:1')
    assert manager.next_name().endswith(':1')


def next_name_in_another_process(manager, new_session: bool) -> str:
    code = ('from messaging.drivers.rabbit import queue_manager as q; '
            'print(q.QueueManager(%r, "proc", %r).next_name())'
            % (manager.hostname, os.path.dirname(manager.lock_file)))
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                         timeout=60, check=True, start_new_session=new_session)
    return out.stdout.strip()


def test_a_process_of_the_same_group_continues_the_count(manager):
    manager.next_name()
    assert next_name_in_another_process(manager, False) == '%s:proc:2' % manager.hostname


def test_a_process_of_a_new_session_starts_over(manager):
    manager.next_name()
    assert next_name_in_another_process(manager, True) == '%s:proc:1' % manager.hostname


def test_lock_path_comes_from_conf_then_environment(monkeypatch, tmp_path):
    conf = cfg.ConfigOpts()
    monkeypatch.delenv(queue_manager.LOCK_PATH_ENV, raising=False)
    assert queue_manager.find_lock_path(conf) is None
    monkeypatch.setenv(queue_manager.LOCK_PATH_ENV, str(tmp_path))
    assert queue_manager.find_lock_path(conf) == str(tmp_path)
    conf.register_opts([cfg.StrOpt('lock_path')], group='oslo_concurrency')
    conf.set_override('lock_path', '/elsewhere', group='oslo_concurrency')
    assert queue_manager.find_lock_path(conf) == '/elsewhere'


def test_queue_manager_without_lock_path_is_refused_saying_what_to_set(monkeypatch):
    conf = cfg.ConfigOpts()
    register_opts(conf)
    monkeypatch.delenv(queue_manager.LOCK_PATH_ENV, raising=False)
    options = impl_rabbit.RabbitOptions(conf, {'use_queue_manager': 'true'})
    with pytest.raises(declarations.InvalidRabbitConfig,
                       match=r'set \[oslo_concurrency\] lock_path or the OSLO_LOCK_PATH'):
        queue_manager.from_options(options, conf)
    assert queue_manager.from_options(impl_rabbit.RabbitOptions(conf), conf) is None
