"""messaging-send-notification, run as a separate process on fake://."""
from __future__ import annotations

import json
import subprocess
import sys
from unittest import mock

import pytest

from messaging.notify import notifier_cli

CLI = [sys.executable, '-m', 'messaging.notify.notifier_cli']


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(CLI + list(args), capture_output=True, text=True, timeout=60)


def test_sends_one_notification_through_the_chosen_driver():
    result = run('--transport-url', 'fake://', '--driver', 'log', '--priority', 'error',
                 '--publisher-id', 'cli.host', '--event-type', 'cli.test',
                 '--payload', '{"a": [1, 2]}')
    assert result.returncode == 0, result.stderr
    [line] = [x for x in result.stderr.splitlines() if 'oslo.messaging.notification' in x]
    assert line.startswith('ERROR oslo.messaging.notification.cli.test: ')
    message = json.loads(line.split(': ', 1)[1])
    assert (message['publisher_id'], message['priority'], message['payload']) == (
        'cli.host', 'ERROR', {'a': [1, 2]})


def test_messagingv2_on_fake_succeeds():
    result = run('--transport-url', 'fake://', '--topic', 'a', '--topic', 'b')
    assert result.returncode == 0, result.stderr


def test_reads_a_config_file(tmp_path):
    path = tmp_path / 'cli.conf'
    path.write_text('[oslo_messaging_notifications]\ntransport_url = fake://\n')
    result = run('--config-file', str(path), '--driver', 'noop')
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize('args, message', [
    (['--transport-url', 'fake://', '--payload', '{"a": '], '--payload is not valid JSON'),
    (['--transport-url', 'nosuchdriver://'], 'Failed to load transport driver "nosuchdriver"'),
    (['--transport-url', 'fake://', '--config-file', '/nonexistent/x.conf'], 'x.conf'),
])
def test_bad_arguments_give_a_one_line_error_and_status_2(args, message):
    result = run(*args)
    assert result.returncode == 2
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith('messaging-send-notification: error: ')
    assert message in last
    assert 'Traceback' not in result.stderr


def test_driver_that_cannot_load_exits_1(tmp_path):
    path = tmp_path / 'routing.yaml'
    path.write_text('g: [broken\n')
    path_conf = tmp_path / 'cli.conf'
    path_conf.write_text('[oslo_messaging_notifications]\nrouting_config = %s\n' % path)
    result = run('--transport-url', 'fake://', '--driver', 'routing',
                 '--config-file', str(path_conf))
    assert result.returncode == 1
    assert str(path) in result.stderr


def test_send_failure_exits_1(capsys):
    with mock.patch('messaging.notify.notifier.Notifier._notify', return_value=False):
        assert notifier_cli.main(['--transport-url', 'fake://']) == 1
    assert 'not sent' in capsys.readouterr().err


def test_messaging_notify_with_a_driver_that_did_not_load_sends_nothing_and_exits_1(capsys):
    from messaging.cli.main import main as messaging_main

    with mock.patch('messaging.notify.notifier.load_drivers', return_value=[]):
        status = messaging_main(['--transport-url', 'fake://', 'notify', 'compute.x'])
    out, err = capsys.readouterr()
    assert status == 1
    assert 'could not be loaded' in err and 'nothing was sent' in err
    assert 'sent' not in out
