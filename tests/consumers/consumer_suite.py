"""What the consumer runners share: venvs, the library swap, stestr, the comparison.

A consumer here is an OpenStack project nobody here wrote (neutron-lib, nova,
cinder), installed from its PyPI sdist (which carries its tests) in a venv
cached in the runners' ``--cache``: ``$MESSAGING_CACHE/consumers`` when
``MESSAGING_CACHE`` is set (CI sets it to a folder of the machine, kept
between runs), else ``<repo>/.consumers``.  A run holds ``<cache>/.lock``
from start to end (it swaps the library inside the venvs and writes its
results there), so that two runs sharing a cache take turns.  Its tests run once on oslo.messaging
18.3.1 and once with messaging and the repository's ``inplace/`` distribution
installed in its place; a test that passes on oslo.messaging and not on
messaging is a regression.

Only the standard library is used here: the consumer's venv brings stestr and
python-subunit, and the stream is parsed by that venv's interpreter.
"""
from __future__ import annotations

import argparse
import contextlib
import csv
import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CACHE_ENV = 'MESSAGING_CACHE'
OSLO_MESSAGING_VERSION = '18.3.1'
OSLO_MESSAGING = 'oslo.messaging==' + OSLO_MESSAGING_VERSION
SIDES = ('oslo', 'ours')
PIP = ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check']
INSTALL_TIMEOUT = 1800
# The pseudo-test that stands for the test modules when they fail to load.
LOAD_FAILURE = '(loading the test modules)'


def default_cache() -> Path:
    """``$MESSAGING_CACHE/consumers`` if that is set, else ``<repo>/.consumers``."""
    root = os.environ.get(CACHE_ENV)
    return Path(root) / 'consumers' if root else REPO / '.consumers'


@contextlib.contextmanager
def locked(cache: Path):
    """Hold ``<cache>/.lock`` (created with ``cache`` if need be) for the block."""
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / '.lock', 'w') as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print('another run holds %s: waiting' % (cache / '.lock'), flush=True)
            started = time.monotonic()
            fcntl.flock(lock, fcntl.LOCK_EX)
            print('waited %.0f s for %s' % (time.monotonic() - started, cache / '.lock'),
                  flush=True)
        yield


def run(command: list, timeout: float, **kwargs) -> subprocess.CompletedProcess:
    print('+ ' + ' '.join(str(part) for part in command), flush=True)
    return subprocess.run([str(part) for part in command], check=True,
                          timeout=timeout, **kwargs)


def _version_key(text: str) -> list:
    return [int(part) if part.isdigit() else -1 for part in text.split('.')]


def fetch_sdist(cache: Path, requirement: str, dist: str) -> Path:
    """The newest sdist of ``requirement`` from PyPI, extracted in ``cache``; its source dir.

    ``dist`` is the project's name as its sdist file spells it (``neutron_lib``).
    """
    downloads = cache / 'sdist'
    run([sys.executable, '-m', 'pip', 'download', '--quiet', '--disable-pip-version-check',
         '--no-deps', '--no-binary', ':all:', '-d', downloads, requirement], INSTALL_TIMEOUT)
    pattern = re.compile(r'%s-(\d+(?:\.\d+)*)\.tar\.gz$' % re.escape(dist))
    candidates = [(pattern.match(path.name), path) for path in downloads.iterdir()]
    matches = [(match.group(1), path) for match, path in candidates if match]
    wanted = requirement[len(dist):]
    if '==' in wanted:
        matches = [item for item in matches if item[0] == wanted.split('==', 1)[1]]
    if not matches:
        raise SystemExit('pip download left no %s sdist in %s' % (dist, downloads))
    version, newest = max(matches, key=lambda item: _version_key(item[0]))
    return extract_sdist(cache, newest)


def extract_sdist(cache: Path, archive_path: Path) -> Path:
    """``archive_path`` (``<name>.tar.gz``) extracted as ``cache/<name>``;
    that source dir.

    Extracted afresh unless a run finished it (``.extracted`` in it): a run
    interrupted while extracting leaves a half-written dir, which is
    replaced, never used. The extraction goes to a dir of its own first and
    is moved in place whole.
    """
    source = cache / archive_path.name[:-len('.tar.gz')]
    done = source / '.extracted'
    if done.exists():
        return source
    shutil.rmtree(source, ignore_errors=True)
    partial = Path(tempfile.mkdtemp(dir=cache, prefix='.extracting-'))
    try:
        safe = {'filter': 'data'} if hasattr(tarfile, 'data_filter') else {}
        with tarfile.open(archive_path) as archive:
            archive.extractall(partial, **safe)
        (partial / source.name).rename(source)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    done.write_text(archive_path.name)
    return source


def build_venv(venv: Path, install: list, then: list | None = None) -> Path:
    """A venv with ``pip install <install>`` done (and the ``then`` commands run); its python.

    The venv is kept and reused while the same arguments would build it; it is
    rebuilt from scratch when they change (a new pin, a new sdist).
    """
    python = venv / 'bin' / 'python'
    ready = venv / '.consumer-ready'
    recipe = json.dumps({'install': [str(part) for part in install],
                         'then': [[str(part) for part in command] for command in then or []],
                         'python': sys.version.split()[0], 'base': sys.base_prefix},
                        sort_keys=True)
    if ready.exists() and ready.read_text() == recipe and python.exists():
        return python
    started = time.monotonic()
    run([sys.executable, '-m', 'venv', '--clear', venv], INSTALL_TIMEOUT)
    run([python, *PIP, *install], INSTALL_TIMEOUT)
    for command in then or []:
        run([python, *command], INSTALL_TIMEOUT)
    ready.write_text(recipe)
    print('venv %s built in %.0f s' % (venv.name, time.monotonic() - started), flush=True)
    return python


def _installed(python: Path) -> dict[str, str]:
    """{dist name: version} of messaging and oslo.messaging in the venv of ``python``."""
    probe = subprocess.run(
        [str(python), '-c',
         'import importlib.metadata as m, json\n'
         'found = {}\n'
         'for name in ("messaging", "oslo.messaging"):\n'
         '    try:\n'
         '        found[name] = m.version(name)\n'
         '    except m.PackageNotFoundError:\n'
         '        pass\n'
         'print(json.dumps(found))'],
        capture_output=True, text=True, check=True, timeout=120, cwd='/')
    return json.loads(probe.stdout)


def use_library(python: Path, side: str, repo: Path = REPO) -> None:
    """Make ``side`` the oslo_messaging of the venv: 'oslo' (18.3.1) or 'ours' (``repo``).

    Swapping is uninstall plus ``pip install --no-deps``: the consumer's own
    requirements already brought every dependency either library needs, and
    ``pip check`` afterwards proves it.
    """
    installed = _installed(python)
    if side == 'oslo':
        if 'messaging' in installed or installed.get('oslo.messaging') != OSLO_MESSAGING_VERSION:
            if installed:
                run([python, '-m', 'pip', 'uninstall', '--quiet', '-y', *sorted(installed)],
                    INSTALL_TIMEOUT)
            run([python, *PIP, '--no-deps', OSLO_MESSAGING], INSTALL_TIMEOUT)
    elif side == 'ours':
        if 'oslo.messaging' in installed and 'messaging' not in installed:
            run([python, '-m', 'pip', 'uninstall', '--quiet', '-y', 'oslo.messaging'],
                INSTALL_TIMEOUT)
        # Always the repository's working tree: pip reinstalls projects given by path.
        run([python, *PIP, '--no-deps', '--force-reinstall', repo, repo / 'inplace'],
            INSTALL_TIMEOUT)
    else:
        raise ValueError('side is oslo or ours, not %r' % side)
    pip_check(python, side)
    version = subprocess.run(
        [str(python), '-c', 'import oslo_messaging, importlib.metadata as m; '
                            'print(m.version("oslo.messaging"), oslo_messaging.__file__)'],
        capture_output=True, text=True, check=True, timeout=120, cwd='/').stdout.strip()
    print('oslo.messaging (%s): %s' % (side, version), flush=True)


def pip_check(python: Path, label: str) -> None:
    check = subprocess.run([str(python), '-m', 'pip', 'check'], capture_output=True,
                           text=True, timeout=INSTALL_TIMEOUT)
    print('pip check (%s): %s' % (label, check.stdout.strip() or check.stderr.strip()))
    if check.returncode != 0:
        raise SystemExit('pip check failed in the %s venv' % label)


# Run by the consumer venv's interpreter (python-subunit and testtools come
# with stestr): the subunit v2 stream on stdin, {test id: [status, details]}
# as JSON on stdout.
_PARSE_SUBUNIT = r'''
import json, sys
import subunit, testtools
found = {}
def on_test(test):
    text = ''
    for name in ('traceback', 'reason'):
        if name in test['details']:
            text = test['details'][name].as_text()
            break
    found[test['id']] = [test['status'], text]
result = testtools.StreamToDict(on_test)
result.startTestRun()
subunit.ByteStreamToStreamResult(sys.stdin.buffer, non_subunit_name='stdout').run(result)
result.stopTestRun()
json.dump(found, sys.stdout)
'''


def run_stestr(python: Path, source: Path, label: str, results_file: Path,
               filters: list[str] = (), env: dict | None = None,
               timeout: float = 1200, concurrency: int = 2) -> dict[str, list]:
    """Run stestr in ``source``; {test id: [subunit status, traceback]}.

    The table (test, status) is saved as CSV in ``results_file``, the
    tracebacks of what did not pass next to it as JSON.
    """
    started = time.monotonic()
    suite = subprocess.run(
        [str(python.parent / 'stestr'), 'run', '--concurrency', str(concurrency), '--subunit',
         *filters], cwd=source, env={**os.environ, **(env or {})}, capture_output=True,
        timeout=timeout)
    print('%s: %.0f s' % (label, time.monotonic() - started), flush=True)
    return _save_results(python, suite.stdout, suite.stderr, label, results_file)


def test_modules(source: Path, names: list[str]) -> list[str]:
    """The test modules ``names`` stand for in ``source``: packages expand to their test_*.py.

    A name that is neither a module nor a package of the source is left out
    (and said so): a test module a release dropped is no error.
    """
    modules = []
    for name in names:
        path = source.joinpath(*name.split('.'))
        if path.is_dir():
            modules += sorted('.'.join(found.relative_to(source).with_suffix('').parts)
                              for found in path.rglob('test_*.py'))
        elif path.with_suffix('.py').is_file():
            modules.append(name)
        else:
            print('%s: no such test module in %s, left out' % (name, source.name))
    return modules


def run_modules(python: Path, source: Path, label: str, results_file: Path,
                modules: list[str], env: dict | None = None,
                timeout: float = 1200, concurrency: int = 2) -> dict[str, list]:
    """Run the tests of ``modules`` in ``concurrency`` processes; as :func:`run_stestr`.

    What stestr's workers do (``python -m subunit.run --load-list``, the test
    ids dealt out round robin), without its discovery of the whole test tree,
    which costs nova and cinder more than the tests chosen here take to run.
    A module that fails to import shows as one failed test
    (``unittest.loader._FailedTest.<module>``) with the import's traceback.
    """
    started = time.monotonic()
    env = {**os.environ, **(env or {})}
    listing = subprocess.run([str(python), '-m', 'testtools.run', '--list', *modules],
                             cwd=source, env=env, capture_output=True, text=True,
                             timeout=timeout)
    packages = {module.split('.')[0] for module in modules} | {'unittest'}
    tests = [line.strip() for line in listing.stdout.splitlines()
             if line.strip().split('.')[0] in packages]
    if listing.returncode != 0 or not tests:
        # A module whose import raises something other than ImportError (an
        # AttributeError in a fixture's class body) stops the loader: no test
        # runs, and the tests of the other side count as not run for that cause.
        print('%s: the tests could not be loaded' % label, flush=True)
        results = {LOAD_FAILURE: ['fail', listing.stderr]}
        results_file.with_suffix('.failures.json').write_text(json.dumps(
            {LOAD_FAILURE: listing.stderr}, indent=1))
        results_file.write_text('test,status\r\n%s,fail\r\n' % LOAD_FAILURE)
        return results
    # Each worker writes its stream to a file: eventlet-patched test runs were
    # seen to hang before their first test when their stdout was a pipe.
    files, workers = [], []
    try:
        for index in range(min(concurrency, len(tests))):
            load_list = results_file.with_suffix('.worker%d.list' % index)
            load_list.write_text('\n'.join(tests[index::concurrency]) + '\n')
            stream = load_list.with_suffix('.subunit')
            files += [load_list, stream]
            with open(stream, 'wb') as output:
                workers.append(subprocess.Popen(
                    [str(python), '-m', 'subunit.run', '--load-list', str(load_list), *modules],
                    cwd=source, env=env, stdin=subprocess.DEVNULL, stdout=output,
                    stderr=subprocess.DEVNULL))
        for worker in workers:
            worker.wait(timeout=max(1, timeout - (time.monotonic() - started)))
        streams = b''.join(path.read_bytes() for path in files if path.suffix == '.subunit')
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
        for path in files:
            path.unlink(missing_ok=True)
    print('%s: %d tests, %.0f s' % (label, len(tests), time.monotonic() - started), flush=True)
    return _save_results(python, streams, listing.stderr.encode(), label,
                         results_file)


def _save_results(python: Path, stream: bytes, stderr: bytes, label: str,
                  results_file: Path) -> dict[str, list]:
    parsed = subprocess.run([str(python), '-c', _PARSE_SUBUNIT], input=stream,
                            capture_output=True, timeout=300, check=True)
    results = {test: value for test, value in json.loads(parsed.stdout).items()
               if value[0] not in ('exists', 'inprogress')}
    with open(results_file, 'w', newline='') as table:
        writer = csv.writer(table)
        writer.writerow(['test', 'status'])
        writer.writerows(sorted((test, value[0]) for test, value in results.items()))
    results_file.with_suffix('.failures.json').write_text(json.dumps(
        {test: value[1] for test, value in sorted(results.items())
         if value[0] not in ('success', 'skip')}, indent=1))
    if not results:
        sys.stderr.write(stderr.decode(errors='replace')[-5000:])
        raise SystemExit('%s reported no test at all' % label)
    return results


def counts(results: dict[str, list]) -> str:
    found: dict[str, int] = {}
    for value in results.values():
        found[value[0]] = found.get(value[0], 0) + 1
    return ', '.join('%s %d' % item for item in sorted(found.items()))


def regressions(oslo: dict[str, list], ours: dict[str, list]) -> list[str]:
    """The tests that pass on oslo.messaging and not on messaging, sorted."""
    return sorted(test for test, value in oslo.items()
                  if value[0] == 'success' and ours.get(test, ['not run'])[0] != 'success')


def cause(traceback: str) -> str:
    """The exception line of a traceback (its last unindented line), addresses blanked."""
    lines = [line for line in traceback.splitlines() if line.strip()]
    for line in reversed(lines):
        if not line[0].isspace() and not line.startswith('Traceback'):
            return re.sub(r'0x[0-9a-f]+', '0x...', line.strip())[:300]
    return lines[-1].strip()[:300] if lines else '(no traceback)'


def report_regressions(label: str, oslo: dict[str, list], ours: dict[str, list]) -> list[str]:
    """Print the regressions of ``label`` grouped by cause, one traceback tail each."""
    found = regressions(oslo, ours)
    groups: dict[str, list[str]] = {}
    for test in found:
        status, traceback = ours.get(test, ['not run', ''])
        if test not in ours and LOAD_FAILURE in ours:
            traceback = ours[LOAD_FAILURE][1]
        groups.setdefault(cause(traceback) if traceback else status, []).append(test)
    for why, tests in sorted(groups.items(), key=lambda item: -len(item[1])):
        print('\n%s: %d test(s) pass on oslo.messaging and not on messaging: %s'
              % (label, len(tests), why))
        for test in tests:
            print('    %s (%s)' % (test, ours.get(test, ['not run'])[0]))
        tail = ours.get(tests[0], ours.get(LOAD_FAILURE, ['', '']))[1].rstrip().splitlines()[-12:]
        if tail:
            print('  traceback tail of the first:\n' + '\n'.join('    ' + line for line in tail))
    return found


def add_location_arguments(parser: argparse.ArgumentParser) -> None:
    """``--repo`` (the checkout put in place on our side) and ``--cache``."""
    parser.add_argument('--repo', type=Path, default=REPO,
                        help='the messaging checkout installed on the messaging side')
    parser.add_argument('--cache', type=Path, default=default_cache(),
                        help='where the sdists, the venvs and the results are kept '
                             '(default: $%s/consumers, else <repo>/.consumers)' % CACHE_ENV)
