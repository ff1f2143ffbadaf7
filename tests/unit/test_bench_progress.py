"""Progress of a benchmark run, fed by workload subprocesses through a pipe."""
import io
import os
import subprocess
import sys

import pytest

from messaging.bench import bare, progress, workload

# A stand-in workload: reports three steps the way workload.run does.
CHILD = ('import sys; sys.path.insert(0, %r); import workload\n'
         'for step in ("a: 100 B: 5 sequential calls", "a: 100 B: 5 casts", "a: done"):\n'
         '    workload.progress(step)\n' % os.path.dirname(workload.__file__))


class Terminal(io.StringIO):
    """A stream that says it is a terminal, so tqdm draws its bar there."""

    def isatty(self):
        return True


def run_child(bar):
    with bar.child() as (env, fds):
        subprocess.run([sys.executable, '-c', CHILD], env={**os.environ, **env},
                       pass_fds=fds, check=True, timeout=60)


def test_a_bar_counts_every_step_a_child_reports():
    pytest.importorskip('tqdm', reason='tqdm is not installed (the bench extra)')
    terminal = Terminal()
    bar = progress.RunProgress(total=6, stream=terminal)
    assert bar.shows_bar
    bar.start('a', 1, 2)
    run_child(bar)
    assert bar.finished == 3
    run_child(bar)
    bar.close()
    assert bar.finished == 6
    assert '6/6' in terminal.getvalue() and 'round 1/2 a' in terminal.getvalue()


def test_without_a_terminal_the_steps_are_plain_lines():
    stream = io.StringIO()
    bar = progress.RunProgress(total=3, stream=stream)
    assert not bar.shows_bar
    bar.start('a', 1, 1)
    run_child(bar)
    bar.close()
    assert stream.getvalue().splitlines()[-4:] == [
        'round 1/1: a', '  a: 100 B: 5 sequential calls', '  a: 100 B: 5 casts', '  a: done']


def test_disabled_progress_writes_lines_even_on_a_terminal():
    terminal = Terminal()
    bar = progress.RunProgress(total=3, enabled=False, stream=terminal)
    assert not bar.shows_bar
    run_child(bar)
    assert bar.finished == 3 and '  a: done' in terminal.getvalue()


def test_steps_match_the_workloads_run_does():
    assert workload.steps([100, 1024]) == 8
    assert bare.steps([100]) == 2


def test_without_tqdm_the_steps_are_plain_lines_after_a_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, 'tqdm', None)  # import tqdm raises ImportError
    terminal = Terminal()
    bar = progress.RunProgress(total=3, stream=terminal)
    assert not bar.shows_bar
    bar.start('a', 1, 1)
    run_child(bar)
    bar.close()
    lines = terminal.getvalue().splitlines()
    assert "pip install 'messaging[bench]'" in lines[0]
    assert lines[-2:] == ['  a: 100 B: 5 casts', '  a: done']


class SizedTerminal(Terminal):
    """A terminal whose size :func:`os.get_terminal_size` is asked for."""

    def fileno(self):
        return 99


@pytest.mark.parametrize('columns, terminal_size', [('0', 80), (None, 0)])
def test_a_terminal_of_no_columns_gets_the_plain_lines(columns, terminal_size, monkeypatch):
    if columns is None:
        monkeypatch.delenv('COLUMNS', raising=False)
    else:
        monkeypatch.setenv('COLUMNS', columns)
    monkeypatch.setattr(os, 'get_terminal_size',
                        lambda fd: os.terminal_size((terminal_size, 24)))
    terminal = SizedTerminal()
    bar = progress.RunProgress(total=3, stream=terminal)
    assert not bar.shows_bar
    run_child(bar)
    assert terminal.getvalue().splitlines()[-1] == '  a: done'


def test_terminal_columns_come_from_the_variable_then_the_terminal(monkeypatch):
    monkeypatch.setattr(os, 'get_terminal_size', lambda fd: os.terminal_size((120, 24)))
    monkeypatch.setenv('COLUMNS', '70')
    assert progress.terminal_columns(SizedTerminal()) == 70
    monkeypatch.setenv('COLUMNS', 'wide')
    assert progress.terminal_columns(SizedTerminal()) == 120
    assert progress.terminal_columns(io.StringIO()) is None
