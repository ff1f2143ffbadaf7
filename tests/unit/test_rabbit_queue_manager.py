"""The queue manager's names and its counter shared through /dev/shm."""
from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest
from oslo_config import cfg

from messaging.drivers import impl_rabbit
from messaging.drivers.rabbit import declarations, queue_manager
from messaging.drivers.rabbit.options import register_opts


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
