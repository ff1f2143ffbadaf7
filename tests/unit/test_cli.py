"""The ``messaging`` command against the in-memory transport, run as a subprocess.

A fake transport lives inside one process, so these tests cover what a single
invocation can show: argument handling, clear one-line errors, sending, and
a server that starts and stops on a signal.
"""
import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from messaging.cli.main import build_parser, main
from tests.cli.runner import REPO, LineReader, run_cli, start_cli, stop


def test_call_with_no_server_times_out_with_one_clear_line():
    result = run_cli('--transport-url', 'fake://', 'call', 'nobody', 'echo',
                     '--timeout', '0.5')
    assert result.returncode == 1
    assert result.stderr.count('\n') == 1
    assert 'timed out' in result.stderr and 'is a server listening' in result.stderr
    assert result.stdout == ''


def test_debug_shows_the_traceback():
    result = run_cli('--transport-url', 'fake://', '--debug', 'call', 'nobody', 'echo',
                     '--timeout', '0.2')
    assert result.returncode == 1
    assert 'Traceback' in result.stderr


def test_malformed_url_is_reported_without_its_password():
    result = run_cli('--transport-url', 'rabbit://user:hunter2secret@host:notaport/',
                     'call', 't', 'm')
    assert result.returncode == 1
    assert 'notaport' in result.stderr and 'not a number' in result.stderr
    assert 'hunter2secret' not in result.stderr


def test_unknown_driver_lists_the_available_ones():
    result = run_cli('--transport-url', 'nosuchdriver://h/', 'cast', 't', 'm')
    assert result.returncode == 1
    assert 'nosuchdriver' in result.stderr and 'fake' in result.stderr


def test_json_args_must_be_an_object():
    result = run_cli('--transport-url', 'fake://', 'call', 't', 'm', '--json-args', '[1]')
    assert result.returncode == 2
    assert 'expected a JSON object' in result.stderr


def test_bad_key_value_argument_is_a_usage_error():
    result = run_cli('--transport-url', 'fake://', 'cast', 't', 'm', '--arg', 'novalue')
    assert result.returncode == 2
    assert 'expected key=value' in result.stderr


def test_notify_sends_and_prints_what_it_sent():
    result = run_cli('--transport-url', 'fake://', 'notify', 'compute.instance.create',
                     '--priority', 'error', '--payload', '{"id": 7}')
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {'sent': 'compute.instance.create',
                                         'priority': 'error'}


def test_serve_announces_itself_and_stops_gracefully_on_sigterm():
    process = start_cli('--transport-url', 'fake://', 'serve',
                        'tests.cli.endpoints:EchoEndpoint', '--topic', 'cli_fake',
                        '--server', 's1')
    try:
        line = LineReader(process.stdout).wait_for('serving')
        assert json.loads(line) == {'serving': 'tests.cli.endpoints:EchoEndpoint',
                                    'topic': 'cli_fake', 'server': 's1'}
    finally:
        assert stop(process) == 0


def test_bench_passes_its_arguments_to_the_benchmark():
    result = run_cli('bench', '--help')
    assert result.returncode == 0, result.stderr
    assert '--compare' in result.stdout and '--bare' in result.stdout


def test_ping_all_with_no_server_says_nobody_answered():
    result = run_cli('--transport-url', 'fake://', 'ping', 'nobody', '--all',
                     '--timeout', '0.3')
    assert result.returncode == 1
    assert json.loads(result.stdout) == {'topic': 'nobody', 'servers_answering': 0,
                                         'answers': []}
    assert 'no server of topic nobody answered' in result.stderr


def test_cast_and_fanout_return_at_once_with_success():
    for command in ('cast', 'fanout'):
        result = run_cli('--transport-url', 'fake://', command, 'anytopic', 'm',
                         '--arg', 'x=1')
        assert result.returncode == 0, result.stderr
        assert result.stdout == ''


def test_ping_of_a_server_that_is_not_there_times_out():
    result = run_cli('--transport-url', 'fake://', 'ping', 'nobody', '--server', 's1',
                     '--timeout', '0.3')
    assert result.returncode == 1
    assert 'timed out' in result.stderr


def test_listen_says_where_it_listens_and_stops_cleanly_on_sigterm():
    process = start_cli('--transport-url', 'fake://', 'listen', '--topic', 'audit_log',
                        '--priority', 'error', '--pool', 'ops')
    try:
        line = LineReader(process.stderr).wait_for('listening')
        assert 'audit_log' in line and 'pool ops' in line
    finally:
        assert stop(process) == 0
    assert process.stdout.read() == ''


@pytest.mark.parametrize('command', [['call', 't', 'm'], ['ping', 't'],
                                     ['ping', 't', '--all']])
@pytest.mark.parametrize('timeout', ['0', '-1', 'soon'])
def test_a_timeout_that_is_not_above_zero_is_a_usage_error(command, timeout):
    result = run_cli('--transport-url', 'fake://', *command, '--timeout', timeout)
    assert result.returncode == 2, result.stderr
    assert '--timeout' in result.stderr and 'alarm' not in result.stderr


@pytest.mark.parametrize('version', ['abc', '1', '1.x', '1.2.3.4'])
def test_a_bad_version_is_refused_before_anything_is_sent(version):
    result = run_cli('--transport-url', 'fake://', 'call', 't', 'm', '--version', version)
    assert result.returncode == 2
    assert 'expected a version such as 1.0' in result.stderr


def test_serve_finds_an_endpoint_module_in_the_current_directory(tmp_path):
    # Run as an installed console script is: from a directory of its own,
    # which Python puts first on sys.path instead of the current one.
    scripts, work = tmp_path / 'bin', tmp_path / 'work'
    scripts.mkdir()
    work.mkdir()
    script = scripts / 'messaging'
    script.write_text('import sys\nfrom messaging.cli.main import main\nsys.exit(main())\n')
    (work / 'mymodule_cli_test.py').write_text(
        'class Endpoint:\n    def echo(self, ctxt, value):\n        return value\n')
    process = subprocess.Popen(
        [sys.executable, str(script), '--transport-url', 'fake://', 'serve',
         'mymodule_cli_test:Endpoint', '--topic', 't'],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=work,
        # Only the project on the path: no empty entry, which means the current directory.
        env=dict(os.environ, PYTHONPATH=str(REPO)))
    try:
        LineReader(process.stdout).wait_for('serving')
    finally:
        assert stop(process) == 0


@pytest.mark.parametrize('command, absent', [
    (['cast'], 'reply'),
    (['fanout'], '--server'),
    (['fanout'], 'reply'),
])
def test_help_texts_offer_only_what_the_command_does(command, absent):
    result = run_cli(*command, '--help')
    assert result.returncode == 0
    assert absent not in result.stdout


def test_listen_takes_every_priority_notify_takes():
    notify = run_cli('notify', '--help').stdout
    listen = run_cli('listen', '--help').stdout
    choices = '{audit,debug,info,warn,error,critical,sample,warning}'
    assert choices in notify.replace('\n', '').replace(' ', '')
    assert choices in listen.replace('\n', '').replace(' ', '')


def test_bench_help_names_messaging_bench():
    result = run_cli('bench', '--help')
    assert result.returncode == 0
    assert result.stdout.startswith('usage: messaging bench')


@pytest.mark.parametrize('group, line, said', [
    ('DEFAULT', 'rpc_response_timeout = soon',
     "option rpc_response_timeout in [DEFAULT] of %s has a bad value 'soon': expected an "
     "integer value"),
    ('oslo_messaging_rabbit', 'rabbit_login_method = FOO',
     "option rabbit_login_method in [oslo_messaging_rabbit] of %s has a bad value 'FOO': "
     "expected one of PLAIN, AMQPLAIN"),
])
def test_a_bad_configuration_value_is_named_in_plain_words(tmp_path, group, line, said):
    path = tmp_path / 'bad.conf'
    path.write_text('[%s]\n%s\n' % (group, line))
    result = run_cli('--transport-url', 'fake://', '--config-file', str(path),
                     'call', 't', 'm')
    assert result.returncode == 1
    assert said % path in result.stderr
    assert 'LocationInfo' not in result.stderr and result.stderr.count('\n') == 1


# Every option whose value is checked, with a value it refuses.
BAD_VALUES = [
    (['call', 't', 'm'], '--arg', 'novalue'),
    (['call', 't', 'm'], '--json-args', '[1]'),
    (['call', 't', 'm'], '--context', '{'),
    (['call', 't', 'm'], '--timeout', '0'),
    (['call', 't', 'm'], '--version', 'abc'),
    (['cast', 't', 'm'], '--arg', 'novalue'),
    (['cast', 't', 'm'], '--json-args', 'x'),
    (['cast', 't', 'm'], '--context', '1'),
    (['cast', 't', 'm'], '--retry', '-2'),
    (['cast', 't', 'm'], '--version', '1'),
    (['fanout', 't', 'm'], '--arg', '=1'),
    (['fanout', 't', 'm'], '--json-args', '{'),
    (['fanout', 't', 'm'], '--context', '[]'),
    (['fanout', 't', 'm'], '--retry', 'often'),
    (['fanout', 't', 'm'], '--version', '1.x'),
    (['ping', 't'], '--timeout', 'soon'),
    (['ping', 't'], '--version', '2'),
    (['notify', 'x.y'], '--priority', 'loud'),
    (['notify', 'x.y'], '--payload', '{"a": '),
    (['notify', 'x.y'], '--context', '"alice"'),
    (['notify', 'x.y'], '--retry', '-3'),
    (['notify', 'x.y'], '--driver', 'kafka'),
    (['listen'], '--priority', 'loud'),
    (['listen'], '--event-type', '('),
    (['listen'], '--publisher', '[a-'),
    (['listen'], '--count', '-1'),
    (['listen'], '--connect-timeout', '0'),
    (['serve', 'tests.cli.endpoints:EchoEndpoint', '--topic', 't'], '--executor', 'gevent'),
    (['serve', 'tests.cli.endpoints:EchoEndpoint', '--topic', 't'], '--connect-timeout',
     '-1'),
    (['serve', '--topic', 't'], 'MODULE:ATTR', 'tests.cli.endpoints'),
    (['retire-queue', 't'], '--timeout', '-5'),
]


@pytest.mark.parametrize('command, option, value', BAD_VALUES,
                         ids=['%s %s %s' % (c[0], o, v) for c, o, v in BAD_VALUES])
def test_a_bad_value_is_a_usage_error_that_names_its_option(command, option, value,
                                                            capsys):
    argv = command + ([value] if option.isupper() else [option, value])
    with pytest.raises(SystemExit) as exited:
        main(['--transport-url', 'fake://'] + argv)
    assert exited.value.code == 2
    last = capsys.readouterr().err.splitlines()[-1]
    assert last.startswith('messaging %s: error: argument %s: ' % (command[0], option))


@pytest.mark.parametrize('argv', [['--config-file', '/nonexistent/x.conf', 'call', 't', 'm'],
                                  ['call', 't', 'm', '--config-file', '/nonexistent/x.conf']])
def test_a_configuration_file_that_cannot_be_read_is_a_usage_error(argv, capsys):
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    last = capsys.readouterr().err.splitlines()[-1]
    assert last.endswith('error: argument --config-file: cannot read /nonexistent/x.conf: '
                         'No such file or directory')


def _checked_options(parser: argparse.ArgumentParser, command: str = '') -> set:
    """(command, option) for every option of ``parser`` whose value is checked."""
    found = set()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found |= _checked_options(sub, name)
        elif (action.type or action.choices) and command:
            found.add((command, action.option_strings[0] if action.option_strings
                       else action.metavar))
    return found


def test_every_checked_option_has_a_bad_value_tried():
    tried = {(command[0], option) for command, option, _value in BAD_VALUES}
    # Checked the same way before the command as after it, tried above.
    common = {'--config-file'}
    assert {(c, o) for c, o in _checked_options(build_parser())
            if o not in common} <= tried


def test_the_common_options_are_taken_after_the_subcommand():
    result = run_cli('call', 'nobody', 'echo', '--timeout', '0.2',
                     '--transport-url', 'fake://', '--debug')
    assert result.returncode == 1
    # fake:// answers that no server has the topic; --debug shows the traceback.
    assert 'Traceback' in result.stderr and 'No reply on topic nobody' in result.stderr


@pytest.fixture
def silent_broker():
    """A port that takes connections and never answers: a hung broker."""
    with socket.socket() as listening:
        listening.bind(('127.0.0.1', 0))
        listening.listen(8)
        yield listening


def test_a_broker_that_never_answers_is_given_up_within_seconds(silent_broker):
    port = silent_broker.getsockname()[1]
    began = time.monotonic()
    result = run_cli('--transport-url', 'rabbit://guest:secretpw@127.0.0.1:%d/' % port,
                     'cast', 't', 'm', timeout=15)
    assert time.monotonic() - began < 15
    assert result.returncode == 1
    assert result.stderr == ('messaging cast: cannot reach the broker at 127.0.0.1:%d, '
                             'vhost /: no answer within 3s\n' % port)


def test_ctrl_c_while_cast_waits_for_the_broker_exits_130_saying_interrupted(
        silent_broker):
    port = silent_broker.getsockname()[1]
    process = start_cli('--transport-url', 'rabbit://guest:guest@127.0.0.1:%d/' % port,
                        'cast', 't', 'm')
    try:
        silent_broker.settimeout(15)
        accepted, _ = silent_broker.accept()   # the command now waits for an answer
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 130
        assert process.stderr.read() == 'messaging cast: interrupted\n'
        accepted.close()
    finally:
        stop(process)
