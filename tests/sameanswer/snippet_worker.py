"""Run same-answer snippets under one library: ``messaging`` or ``oslo_messaging``.

Started by :mod:`tests.sameanswer.harness` with the library's import name as
its argument. It imports the library once, then reads one JSON request a line
(``{"code": ...}``) from stdin and answers one JSON line on stdout. Each
snippet runs in a forked child, so that no snippet sees another's state (the
fake driver's in-memory broker, option registrations, warnings filters).

Inside a snippet these names are defined:

- ``om``: the library under test;
- ``cfg``: ``oslo_config.cfg``;
- ``observe(key, value)``: records what the snippet saw, compared between
  libraries (values that JSON cannot carry are compared by ``repr``);
- ``outcome(fn, *args, **kwargs)``: ``{'returned': value}`` or
  ``{'raised': 'ExceptionClass', 'message': str(exc)}``;
- ``warned(fn, *args, **kwargs)``: the categories of the warnings ``fn``
  gave, in order.
"""
import importlib
import json
import os
import sys
import traceback
import warnings

# The worker must never see the repository's own test helpers under the oslo
# interpreter, nor an installed ``messaging`` shadowing a checkout.
LIBRARY = importlib.import_module(sys.argv[1])
from oslo_config import cfg  # noqa: E402


def _jsonable(value):
    try:
        return json.loads(json.dumps(value))
    except (TypeError, ValueError):
        return {'repr': repr(value)}


def outcome(fn, *args, **kwargs):
    try:
        return {'returned': _jsonable(fn(*args, **kwargs))}
    except Exception as exc:  # the exception is the observation
        return {'raised': type(exc).__name__, 'message': str(exc)}


def warned(fn, *args, **kwargs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        outcome(fn, *args, **kwargs)
    return [w.category.__name__ for w in caught]


def _run_in_child(code: str, write_fd: int) -> None:
    observations = {}

    def observe(key, value):
        observations[key] = _jsonable(value)

    namespace = {'om': LIBRARY, 'cfg': cfg, 'observe': observe,
                 'outcome': outcome, 'warned': warned}
    try:
        exec(compile(code, '<snippet>', 'exec'), namespace)
        answer = {'observations': observations}
    except BaseException:
        answer = {'observations': observations, 'error': traceback.format_exc()}
    with os.fdopen(write_fd, 'w') as out:
        json.dump(answer, out)


def _serve() -> None:
    for line in sys.stdin:
        request = json.loads(line)
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read_fd)
            try:
                _run_in_child(request['code'], write_fd)
            finally:
                os._exit(0)
        os.close(write_fd)
        with os.fdopen(read_fd) as answer_in:
            answer = answer_in.read()
        os.waitpid(pid, 0)
        sys.stdout.write((answer or json.dumps({'error': 'the snippet process died'})) + '\n')
        sys.stdout.flush()


if __name__ == '__main__':
    _serve()
