"""The logger names: ours used as ``messaging``, oslo.messaging's in place."""
from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import pytest

from messaging import log_names

PACKAGE = Path(log_names.__file__).resolve().parent


def _modules_that_log() -> list[str]:
    """Our modules that define a module-level ``LOG``."""
    found = []
    for path in sorted(PACKAGE.rglob('*.py')):
        tree = ast.parse(path.read_text())
        if any(isinstance(node, ast.Assign) and any(getattr(t, 'id', None) == 'LOG'
                                                   for t in node.targets)
               for node in tree.body):
            parts = path.relative_to(PACKAGE.parent).with_suffix('').parts
            found.append('.'.join(parts[:-1] if parts[-1] == '__init__' else parts))
    return found


def test_used_as_messaging_a_module_logs_under_its_own_name():
    for module in _modules_that_log():
        assert log_names.logger_name(module, in_place=False) == module


@pytest.mark.parametrize('module, expected', [
    ('messaging.drivers.rabbit.link', 'oslo.messaging._drivers.impl_rabbit'),
    ('messaging.drivers.rabbit.heartbeat', 'oslo.messaging._drivers.impl_rabbit'),
    ('messaging.drivers.rabbit.io_loop', 'oslo.messaging._drivers.impl_rabbit'),
    ('messaging.drivers.rabbit.reply_sender', 'oslo_messaging._drivers.amqpdriver'),
    ('messaging.drivers.rabbit.reply_waiter', 'oslo_messaging._drivers.amqpdriver'),
    ('messaging.drivers.rabbit.pool', 'oslo.messaging._drivers.pool'),
    ('messaging._lifecycle', 'oslo_messaging.server'),
    ('messaging.rpc.server', 'oslo_messaging.rpc.server'),
    ('messaging.notify.dispatcher', 'oslo_messaging.notify.dispatcher'),
    ('messaging.worker_pool', 'oslo_messaging.worker_pool'),
    ('messaging', 'oslo_messaging'),
])
def test_in_place_a_module_logs_under_oslo_messagings_name(module, expected):
    assert log_names.logger_name(module, in_place=True) == expected


def test_in_place_every_logger_is_under_oslo_messagings_prefixes():
    for module in _modules_that_log():
        name = log_names.logger_name(module, in_place=True)
        assert name.startswith(('oslo_messaging.', 'oslo.messaging.')), module


def test_names_outside_the_library_are_left_alone():
    assert log_names.logger_name('messagingextra.x', in_place=True) == 'messagingextra.x'
    assert log_names.logger_name('kombu.connection', in_place=True) == 'kombu.connection'


def test_every_table_entry_is_a_module_that_logs():
    logging_modules = set(_modules_that_log())
    for module in log_names.OSLO_LOGGERS:
        assert importlib.util.find_spec(module) is not None, module
        assert module in logging_modules, module


@pytest.mark.parametrize('version, ours', [
    ('18.3.1+messaging.0.1.0', True),
    ('18.3.1', False),
    ('18.3.1+local', False),
    (None, False),
])
def test_the_in_place_distribution_is_known_by_its_version_label(version, ours):
    assert log_names.is_our_distribution(version) is ours


def test_the_decision_is_read_from_the_installed_metadata(monkeypatch):
    versions = {'oslo.messaging': '18.3.1+messaging.0.1.0'}
    monkeypatch.setattr(log_names.metadata, 'version', versions.__getitem__)
    log_names.in_place.cache_clear()
    try:
        assert log_names.in_place()
        assert log_names.get_logger('messaging.rpc.server').name == 'oslo_messaging.rpc.server'
        versions['oslo.messaging'] = '18.3.1'
        log_names.in_place.cache_clear()
        assert not log_names.in_place()
        assert log_names.get_logger('messaging.rpc.server').name == 'messaging.rpc.server'
    finally:
        log_names.in_place.cache_clear()


def test_modules_take_their_logger_from_log_names():
    """One way to name a logger: no module calls logging.getLogger(__name__)."""
    for path in PACKAGE.rglob('*.py'):
        assert 'logging.getLogger(__name__)' not in path.read_text(), path
