"""``python -m messaging.bench``: argument parsing and running the workloads.

Each library runs :mod:`messaging.bench.workload` in a subprocess of its own
(oslo.messaging with the interpreter of its own virtualenv), so that both
libraries run the same code and neither's imports or threads disturb the
other; ``--bare`` runs the floors of :mod:`messaging.bench.bare` the same
way. By default each of them starts its RPC server and listener (the
floors' echo server and consumer) in a process of its own,
:mod:`messaging.bench.peer`; ``--same-process`` keeps them in the client's.
With ``--rounds`` above 1 the libraries alternate, round after round,
and the best round of each workload is reported. ``--scale N`` runs
:mod:`messaging.bench.scale` instead: N servers and listeners per library.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
from typing import Optional

from messaging.bench import bare, chart, goals, progress, report, scale, stats, workload

DEFAULT_URL = 'rabbit://guest:guest@127.0.0.1:5672/'
DEFAULT_SIZES = '100,10240,1048576'
# Seconds the broker has to answer before the benchmark starts.
BROKER_CHECK_TIMEOUT = 10.0
_REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# The interop tests' variable names the same interpreter.
DEFAULT_OSLO_PYTHON = (os.environ.get('MESSAGING_INTEROP_PYTHON')
                       or os.path.join(_REPO, '.interop-venv', 'bin', 'python'))


def parse_sizes(text: str) -> list[int]:
    """``100,10KB,1MB`` as byte counts."""
    sizes = []
    for item in text.split(','):
        item = item.strip().upper()
        scale = 1
        for unit, factor in (('MB', 1024 * 1024), ('KB', 1024), ('B', 1)):
            if item.endswith(unit):
                item, scale = item[:-len(unit)].strip(), factor
                break
        try:
            size = int(item) * scale
        except ValueError:
            raise argparse.ArgumentTypeError('not a size: %r' % text) from None
        if size <= 0:
            raise argparse.ArgumentTypeError('a size must be positive: %r' % text)
        sizes.append(size)
    return sizes


def build_parser(prog: str = 'python -m messaging.bench') -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description='Call, cast and notification rates and call latency on a broker.')
    parser.add_argument('--url', default=DEFAULT_URL, help='transport URL (%(default)s)')
    parser.add_argument('--threads', type=int, default=8,
                        help='client threads of the concurrent call (%(default)s)')
    parser.add_argument('--count', type=int, default=None,
                        help='messages per workload at 100 B (fewer for big payloads); '
                             'default 1000, 200 with --quick')
    parser.add_argument('--sizes', type=parse_sizes, default=None,
                        help='payload sizes, e.g. 100,10KB,1MB (default all three; '
                             '100 B with --quick)')
    parser.add_argument('--rounds', type=int, default=1,
                        help='rounds per library, alternating (default 1)')
    parser.add_argument('--quick', action='store_true', help='a short run')
    parser.add_argument('--compare', choices=['oslo'], help='also run oslo.messaging')
    parser.add_argument('--oslo-python', default=DEFAULT_OSLO_PYTHON,
                        help='a Python with oslo.messaging (%(default)s)')
    parser.add_argument('--bare', action='store_true',
                        help='also run the loops on the bare amqp client (the floor)')
    parser.add_argument('--same-process', dest='cross_process', action='store_false',
                        help='run the RPC server and the listener (the floors\' echo '
                             'server and consumer) in the client\'s process, under one '
                             'GIL, instead of a process of their own')
    parser.add_argument('--scale', type=int, metavar='N',
                        help='instead of the workloads: N RPC servers and N listeners '
                             'per library in one process, its threads, broker '
                             'connections, RSS, start time and call rates')
    parser.add_argument('--json', metavar='FILE', help='write the results to FILE')
    parser.add_argument('--charts', metavar='FILE',
                        help='draw every chart, named after FILE, in the format of its '
                             'extension (.svg, or .png and .pdf with the bench extra)')
    parser.add_argument('--no-progress', dest='progress', action='store_false',
                        help='no progress bar (there is none without a terminal either)')
    return parser


def parse_args(argv: Optional[list[str]], prog: str = 'python -m messaging.bench'
               ) -> argparse.Namespace:
    """The parsed arguments with the --quick dependent defaults filled in."""
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    if args.count is None:
        args.count = 200 if args.quick else 1000
    if args.sizes is None:
        args.sizes = parse_sizes('100' if args.quick else DEFAULT_SIZES)
    for name in ('count', 'threads', 'rounds'):
        if getattr(args, name) < 1:
            parser.error('--%s must be at least 1' % name)
    if args.scale is not None:
        if args.scale < 1:
            parser.error('--scale must be at least 1')
        for option, given in (('--bare', args.bare), ('--charts', args.charts),
                              ('--rounds', args.rounds > 1),
                              ('--same-process', not args.cross_process)):
            if given:
                parser.error('--scale runs once, without %s' % option)
    if args.charts:
        try:
            chart.check_format(args.charts)
        except chart.ChartError as ex:
            parser.error(str(ex))
    if args.compare == 'oslo' and not os.path.exists(args.oslo_python):
        parser.error('no oslo.messaging interpreter at %s (see --oslo-python)'
                     % args.oslo_python)
    return args


def libraries(args: argparse.Namespace) -> list[tuple[str, str]]:
    """(library, interpreter) pairs to run, ours first."""
    runs = [('messaging', sys.executable)]
    if args.compare == 'oslo':
        runs.append(('oslo_messaging', args.oslo_python))
    if args.bare:
        runs.append(('amqp', sys.executable))
    return runs


def steps(library: str, args: argparse.Namespace) -> int:
    """How many progress steps one round of ``library`` has."""
    if args.scale is not None:
        return scale.STEPS
    if library == 'amqp':
        return bare.steps(args.sizes)
    return workload.steps(args.sizes)


def run_workload(library: str, python: str, args: argparse.Namespace,
                 bar: progress.RunProgress) -> dict:
    """One round of every workload of ``library`` (the floors for ``amqp``;
    the scale run with ``--scale``) in a subprocess."""
    sizes = ','.join(str(size) for size in args.sizes)
    if args.scale is not None:
        arguments = [scale.__file__, library, args.url, str(args.scale), str(args.count)]
    elif library == 'amqp':
        arguments = [bare.__file__, args.url, sizes, str(args.count), mode(args)]
    else:
        arguments = [workload.__file__, library, args.url, sizes, str(args.count),
                     str(args.threads), mode(args)]
    return run_child(library, [python, '-W', 'ignore'] + arguments, bar)


def mode(args: argparse.Namespace) -> str:
    """The mode of the run as its workload subprocesses name it."""
    return workload.MODES[0] if args.cross_process else workload.MODES[1]


def child_options(library: str = 'messaging') -> dict:
    """The ``env`` and ``cwd`` of a subprocess running ``library``: ours is
    imported from the package this benchmark is part of, whatever the
    directory the benchmark was started in holds (a clone named
    ``messaging``, say, which would shadow the package)."""
    env = dict(os.environ)
    if library == 'messaging':
        env['PYTHONPATH'] = os.pathsep.join(filter(None, [_REPO, env.get('PYTHONPATH')]))
    return {'env': env, 'cwd': _REPO}


def run_child(library: str, command: list[str], bar: progress.RunProgress) -> dict:
    """Run ``command`` for ``library``; the JSON object it printed."""
    options = child_options(library)
    if _STOP.signal is not None:
        raise Stopped()
    with bar.child() as (progress_env, progress_fds):
        options['env'].update(progress_env)
        child = subprocess.Popen(command, stdout=subprocess.PIPE, pass_fds=progress_fds,
                                 **options)
        # Known to the signal handler from here; a signal that came while Popen
        # was still starting it is seen by the check below.
        _STOP.child = child
        try:
            if _STOP.signal is None:
                output, _ = child.communicate()
            if _STOP.signal is not None:
                raise Stopped()
        except BaseException:
            # Stopped (SIGTERM, Ctrl-C) or failed here: the workload must not
            # go on running without us.
            end_child(child)
            raise
        finally:
            _STOP.child = None
    if child.returncode != 0:
        raise RuntimeError('the %s workload failed (exit status %d)'
                           % (library, child.returncode))
    return json.loads(output)


def end_child(child: subprocess.Popen) -> None:
    """Terminate ``child``, killing it if it does not end within 5 s."""
    if child.poll() is None:
        child.terminate()
    try:
        child.wait(timeout=5)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


class Stopped(Exception):
    """The benchmark was asked to stop (SIGTERM or SIGINT)."""


class _StopRequest:
    """The handler of SIGTERM and SIGINT: remembers the signal and ends the
    running workload, whose end lets the benchmark stop."""

    def __init__(self) -> None:
        self.signal: Optional[int] = None
        self.child: Optional[subprocess.Popen] = None

    def __call__(self, signum: int, frame: object) -> None:
        self.signal = signum
        child = self.child
        if child is not None and child.poll() is None:
            child.terminate()


_STOP = _StopRequest()


def check_broker(url: str, timeout: float = BROKER_CHECK_TIMEOUT) -> None:
    """Connect once to ``url`` within ``timeout`` seconds before any workload,
    in a subprocess that imports ``messaging`` as the workloads do (the
    package of this benchmark, not a directory of that name where the
    benchmark was started).

    :raises RuntimeError: saying why the broker cannot be used.
    """
    code = ('import sys; from messaging.bench import cli; '
            'sys.exit(cli.check_broker_here(sys.argv[1], float(sys.argv[2])))')
    done = subprocess.run([sys.executable, '-c', code, url, str(timeout)],
                          capture_output=True, text=True, check=False, **child_options())
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines()
        raise RuntimeError(lines[-1] if lines else 'the broker check failed (exit status %d)'
                           % done.returncode)


def check_broker_here(url: str, timeout: float) -> int:
    """:func:`check_broker` in this process: 0, or 1 with the reason on
    stderr."""
    try:
        _connect_once(url, timeout)
    except RuntimeError as ex:
        sys.stderr.write('%s\n' % ex)
        return 1
    return 0


def _connect_once(url: str, timeout: float) -> None:
    from oslo_config import cfg

    import messaging

    conf = cfg.ConfigOpts()
    conf([])
    try:
        transport = messaging.get_rpc_transport(conf, url)
    except Exception as ex:
        raise RuntimeError('bad --url: %s' % ex) from None
    try:
        transport.admin.connect(timeout)
    except Exception as ex:
        raise RuntimeError('cannot use the broker of --url: %s' % ex) from None
    finally:
        transport.cleanup()


def collect(args: argparse.Namespace) -> dict:
    """Run every round of every library; the summarized results."""
    rounds: dict[str, list[dict]] = {library: [] for library, _ in libraries(args)}
    total = args.rounds * sum(steps(library, args) for library in rounds)
    with progress.for_run(total, args.progress) as bar:
        for number in range(1, args.rounds + 1):
            for library, python in libraries(args):
                bar.start(library, number, args.rounds)
                rounds[library].append(run_workload(library, python, args, bar))
    return {'url_host': args.url.rsplit('@', 1)[-1], 'threads': args.threads,
            'count': args.count, 'rounds': args.rounds, 'mode': mode(args),
            'libraries': {library: merge_rounds(runs) for library, runs in rounds.items()}}


def collect_scale(args: argparse.Namespace) -> dict:
    """The ``--scale`` run of every library, call rates summarized."""
    runs = libraries(args)
    results: dict = {'url_host': args.url.rsplit('@', 1)[-1], 'servers': args.scale,
                     'count': args.count, 'libraries': {}}
    with progress.for_run(len(runs) * scale.STEPS, args.progress) as bar:
        for library, python in runs:
            bar.start(library, 1, 1)
            figures = run_workload(library, python, args, bar)
            for key in ('one_server', 'all_servers'):
                figures[key] = stats.summarize(figures[key])
            results['libraries'][library] = figures
    return results


def merge_rounds(runs: list[dict]) -> dict:
    """The best round of each workload and size, and the peak RSS of all
    (of the server's process too, when it had one)."""
    sizes: dict = {}
    for size in runs[0]['sizes']:
        sizes[size] = {key: stats.best_of([stats.summarize(run['sizes'][size][key])
                                           for run in runs])
                       for key in runs[0]['sizes'][size]}
    merged = {'sizes': sizes}
    for key in ('peak_rss_mb', 'server_peak_rss_mb'):
        if key in runs[0]:
            merged[key] = max(run[key] for run in runs)
    return merged


def main(argv: Optional[list[str]] = None, prog: str = 'python -m messaging.bench') -> int:
    """Run the benchmark; 0 on success, 1 when it failed or was stopped.

    The broker is checked first; SIGTERM and Ctrl-C end the running
    workload's process before the benchmark exits.
    """
    args = parse_args(argv, prog)
    _STOP.signal = None
    previous = {signum: signal.signal(signum, _STOP)
                for signum in (signal.SIGTERM, signal.SIGINT)}
    try:
        check_broker(args.url)
        results = collect_scale(args) if args.scale is not None else collect(args)
    except RuntimeError as ex:
        sys.stderr.write('benchmark failed: %s\n' % ex)
        return 1
    except Stopped:
        sys.stderr.write('benchmark stopped by signal %s; its workload process was '
                         'ended\n' % _STOP.signal)
        return 1
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if args.scale is not None:
        results['goals'] = goals.scale_goals(results)
        print(report.format_scale(results))
    else:
        results['goals'] = goals.workload_goals(results)
        print(report.format_mode(results))
        print(report.format_table(results))
        print('\nCPU per sequential call, by thread:')
        print(report.format_cpu_by_thread(results))
    print('\nGoals:')
    print(goals.format_goals(results['goals']))
    if args.json:
        report.write_json(args.json, results)
    if args.charts:
        try:
            for path in chart.draw_all(results, args.charts):
                sys.stderr.write('chart: %s\n' % path)
        except (OSError, chart.ChartError) as ex:
            sys.stderr.write('cannot draw the charts: %s\n' % ex)
            return 1
    return 0
