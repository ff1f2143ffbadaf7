"""The benchmark's command line and the merging of its rounds."""
import argparse
import importlib
import os
import subprocess
import sys
import types

import pytest

from messaging.bench import cli


def test_sizes_accept_units():
    assert cli.parse_sizes('100,10KB,1mb') == [100, 10240, 1048576]


@pytest.mark.parametrize('text', ['ten', '0', '-5KB'])
def test_sizes_refuse_nonsense(text):
    with pytest.raises(argparse.ArgumentTypeError):
        cli.parse_sizes(text)


def test_defaults_are_a_full_run_of_ours_only():
    args = cli.parse_args([])
    assert (args.url, args.threads, args.count, args.rounds) == (
        cli.DEFAULT_URL, 8, 1000, 1)
    assert args.sizes == [100, 10240, 1048576]
    assert cli.libraries(args) == [('messaging', sys.executable)]


def test_quick_shortens_the_run_unless_told_otherwise():
    args = cli.parse_args(['--quick'])
    assert (args.count, args.rounds, args.sizes) == (200, 1, [100])
    assert cli.parse_args(['--quick', '--count', '7']).count == 7


def test_compare_and_bare_add_libraries(tmp_path):
    python = tmp_path / 'python'
    python.write_text('')
    args = cli.parse_args(['--compare', 'oslo', '--oslo-python', str(python), '--bare'])
    assert cli.libraries(args) == [('messaging', sys.executable),
                                   ('oslo_messaging', str(python)),
                                   ('amqp', sys.executable)]


def test_compare_without_an_oslo_interpreter_is_an_error(tmp_path):
    with pytest.raises(SystemExit):
        cli.parse_args(['--compare', 'oslo', '--oslo-python', str(tmp_path / 'none')])


def test_counts_below_one_are_an_error():
    with pytest.raises(SystemExit):
        cli.parse_args(['--threads', '0'])


def test_merge_keeps_the_best_round_and_the_highest_rss():
    def run(seconds, rss):
        return {'peak_rss_mb': rss, 'sizes': {'100': {
            'cast': {'count': 10, 'seconds': seconds},
            'call': {'count': 10, 'seconds': seconds, 'latencies': [seconds / 10] * 10}}}}

    merged = cli.merge_rounds([run(2.0, 30.0), run(1.0, 20.0)])
    assert merged['peak_rss_mb'] == 30.0
    assert merged['sizes']['100']['cast']['rate'] == 10.0
    assert merged['sizes']['100']['call']['p50_ms'] == pytest.approx(100.0)


def test_charts_with_an_extension_of_no_format_are_refused_before_the_run(capsys):
    with pytest.raises(SystemExit):
        cli.parse_args(['--charts', 'bench.gif'])
    assert 'name a file ending in' in capsys.readouterr().err


def test_progress_is_on_unless_turned_off():
    assert cli.parse_args([]).progress is True
    assert cli.parse_args(['--no-progress']).progress is False


@pytest.mark.parametrize('extra', [['--bare'], ['--rounds', '2'], ['--charts', 'b.svg']])
def test_scale_runs_once_and_alone(extra, capsys):
    with pytest.raises(SystemExit):
        cli.parse_args(['--scale', '3'] + extra)
    assert '--scale runs once, without' in capsys.readouterr().err


def test_scale_needs_a_server():
    with pytest.raises(SystemExit):
        cli.parse_args(['--scale', '0'])


def test_steps_follow_the_mode():
    args = cli.parse_args(['--sizes', '100,1KB'])
    assert (cli.steps('messaging', args), cli.steps('amqp', args)) == (8, 4)
    assert cli.steps('messaging', cli.parse_args(['--scale', '3'])) == 5


def test_the_interop_variable_names_the_default_oslo_interpreter(monkeypatch, tmp_path):
    python = tmp_path / 'python'
    python.write_text('')
    monkeypatch.setenv('MESSAGING_INTEROP_PYTHON', str(python))
    try:
        assert importlib.reload(cli).parse_args(['--compare', 'oslo']).oslo_python == str(python)
    finally:
        monkeypatch.undo()
        importlib.reload(cli)


def test_the_server_runs_in_a_process_of_its_own_unless_told_otherwise(capsys):
    args = cli.parse_args([])
    assert args.cross_process and cli.mode(args) == 'cross-process'
    assert cli.mode(cli.parse_args(['--same-process'])) == 'same-process'
    with pytest.raises(SystemExit):
        cli.parse_args(['--scale', '3', '--same-process'])
    assert '--scale runs once, without --same-process' in capsys.readouterr().err


def _shadowing_clone(tmp_path):
    """A directory holding ``messaging/``, a clone's root: no package there."""
    (tmp_path / 'messaging').mkdir()
    (tmp_path / 'messaging' / 'README.md').write_text('a clone\n')
    return tmp_path


def test_subprocesses_import_this_package_wherever_the_bench_was_started(
        tmp_path, monkeypatch):
    monkeypatch.chdir(_shadowing_clone(tmp_path))
    done = subprocess.run([sys.executable, '-c', 'import messaging; print(messaging.__file__)'],
                          capture_output=True, text=True, check=True, timeout=60,
                          **cli.child_options())
    package = os.path.dirname(os.path.dirname(os.path.abspath(cli.__file__)))
    assert done.stdout.strip() == os.path.join(package, '__init__.py')


def test_the_broker_check_beside_a_clone_named_messaging_reads_the_url(
        tmp_path, monkeypatch):
    monkeypatch.chdir(_shadowing_clone(tmp_path))
    # What `python -m messaging.bench` started there imports as `messaging`
    # when the package is installed in editable mode: the clone's root.
    monkeypatch.setitem(sys.modules, 'messaging', types.ModuleType('messaging'))
    with pytest.raises(RuntimeError, match='^cannot use the broker of --url'):
        cli.check_broker('rabbit://guest:guest@127.0.0.1:1/', timeout=1.0)
