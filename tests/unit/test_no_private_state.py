"""messaging's code never reaches into another library's private state: no
underscored attribute of an object that is not ours, no closure cells or
code objects, no function put onto another object's attribute
(monkeypatching). Subclasses and documented constructor arguments are the
way to change py-amqp's, kombu's or oslo's behaviour (see
messaging/drivers/rabbit/engine/amqp_link.py).

The check is static (``ast``) over messaging/**/*.py:

- ``x._name`` is flagged unless ``x`` is ``self``/``cls``, a name imported
  from messaging, or the exact expression is in ``OURS`` below;
  namedtuple's documented ``_replace``/``_asdict``/``_fields``/``_make``
  pass, and so do type annotations (never evaluated);
- ``__closure__``, ``cell_contents``, ``__code__``, ``__globals__`` on
  anything are flagged;
- ``x.attr = f`` with ``x`` not ``self``/``cls`` and ``f`` a lambda, a
  function defined in the module or a method (``obj.method``) is flagged,
  and so is ``setattr(x, name, f)``.
"""
from __future__ import annotations

import ast
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / 'messaging'

INTROSPECTION = frozenset({'__closure__', 'cell_contents', '__code__', '__globals__'})
NAMEDTUPLE_API = frozenset({'_replace', '_asdict', '_fields', '_make'})

# Private attributes of messaging's own objects that its modules share,
# by file and expression. Each must still occur (no stale entries).
OURS = {
    # messaging.Transport's driver and its internal send/listen methods,
    # named as oslo.messaging names them.
    # oslo.messaging's transport, whose reply queue the benchmark deletes.
    'messaging/bench/workload.py': {'transport._driver'},
    'messaging/cli/notify_commands.py': {'notifier._drivers', 'notifier._notify'},
    'messaging/notify/notifier_cli.py': {'notifier._notify'},
    'messaging/notify/notifier.py': {'base._topics', 'base._serializer', 'base._drivers'},
    'messaging/notify/listener.py': {'self.transport._listen_for_notification',
                                     'transport._require_driver_features'},
    'messaging/notify/messaging.py': {'self.transport._send_notification'},
    'messaging/rpc/client.py': {'self.transport._send'},
    'messaging/rpc/server.py': {'self.transport._listen', 'dispatcher._enable_ping'},
    # The mark messaging puts on an exception it rebuilt from a reply.
    'messaging/wire.py': {'exc._remote_message'},
}


def _is_own(node: ast.expr, ours: set[str]) -> bool:
    return isinstance(node, ast.Name) and (node.id in ('self', 'cls') or node.id in ours)


def _messaging_imports(tree: ast.Module) -> set[str]:
    """Names the module binds to messaging's own modules and objects."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and (
                node.module == 'messaging' or node.module.startswith('messaging.')):
            names.update(alias.asname or alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(alias.asname or alias.name.split('.')[0] for alias in node.names
                         if alias.name.split('.')[0] == 'messaging')
    return names


def _annotations(tree: ast.Module) -> set[int]:
    """Ids of every node inside a type annotation."""
    roots: list[ast.AST] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.arg) and node.annotation is not None:
            roots.append(node.annotation)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.returns:
            roots.append(node.returns)
        elif isinstance(node, ast.AnnAssign):
            roots.append(node.annotation)
    return {id(inner) for root in roots for inner in ast.walk(root)}


def _is_function(node: ast.expr, functions: set[str], methods: frozenset[str]) -> bool:
    """A lambda, a function of the module or an ``obj.method``."""
    return (isinstance(node, ast.Lambda)
            or (isinstance(node, ast.Name) and node.id in functions)
            or (isinstance(node, ast.Attribute) and node.attr in methods))


def violations(source: str, path: str, allowed: frozenset[str] = frozenset(),
               method_names: frozenset[str] = frozenset()) -> Iterator[tuple[str, str]]:
    """``(where, expression)`` of each reach into private state in ``source``.

    :param allowed: expressions (``x._name``) known to be messaging's own.
    :param method_names: names of methods defined anywhere in messaging,
        for ``obj.method`` as an assigned function.
    """
    tree = ast.parse(source)
    ours = _messaging_imports(tree)
    in_annotation = _annotations(tree)
    functions = {node.name for node in ast.walk(tree)
                 if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}
    for node in ast.walk(tree):
        where = '%s:%d' % (path, getattr(node, 'lineno', 0))
        if isinstance(node, ast.Attribute) and id(node) not in in_annotation:
            name = node.attr
            if name in INTROSPECTION:
                yield where, ast.unparse(node)
            elif (name.startswith('_') and not name.endswith('__')
                  and name not in NAMEDTUPLE_API and not _is_own(node.value, ours)
                  and ast.unparse(node) not in allowed):
                yield where, ast.unparse(node)
        elif isinstance(node, ast.Assign) and _is_function(node.value, functions,
                                                           method_names):
            for target in node.targets:
                if isinstance(target, ast.Attribute) and not _is_own(target.value, set()):
                    yield where, ast.unparse(node)
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
              and node.func.id == 'setattr' and len(node.args) == 3
              and not _is_own(node.args[0], set())
              and _is_function(node.args[2], functions, method_names)):
            yield where, ast.unparse(node)


def _sources() -> Iterator[tuple[str, str]]:
    for path in sorted(PACKAGE.rglob('*.py')):
        yield path.relative_to(ROOT).as_posix(), path.read_text(encoding='utf-8')


def _method_names() -> frozenset[str]:
    return frozenset(node.name for _path, source in _sources()
                     for node in ast.walk(ast.parse(source))
                     if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)))


def test_messaging_reaches_into_no_other_librarys_private_state():
    methods = _method_names()
    found = [hit for path, source in _sources()
             for hit in violations(source, path, frozenset(OURS.get(path, ())), methods)]
    assert found == []


def test_every_allowed_expression_still_occurs():
    methods = _method_names()
    stale = {}
    for path, allowed in OURS.items():
        source = (ROOT / path).read_text(encoding='utf-8')
        still = {expression for _where, expression in violations(source, path,
                                                                 method_names=methods)}
        if allowed - still:
            stale[path] = allowed - still
    assert stale == {}


def test_the_check_finds_each_kind_of_reach():
    # What the rabbit driver did before amqp_link.py, one of each kind.
    source = '''
from messaging.drivers.rabbit.engine import frames
import amqp

def install(link, transport, writer, reader, channel, msg):
    lock = writer.__closure__[0].cell_contents
    pending = transport._read_buffer
    transport.read_frame = reader.read_frame
    link.on_inbound_frame = lambda frame: None

    def blocking_read(timeout=None):
        return link._transport, channel._pending, msg._pending_chunks

    link.blocking_read = blocking_read
    setattr(link, 'drain_events', blocking_read)
    return super()._setup_transport()

class Ours:
    def fine(self, cls, sub: amqp._private_type) -> None:
        self._x = cls._y + frames._encode + self.d._replace(x=1).x
'''
    found = [expression for _where, expression in violations(source, 'example.py',
                                                             method_names=_method_names())]
    assert sorted(found) == sorted([
        'writer.__closure__[0].cell_contents', 'transport._read_buffer',
        'transport.read_frame = reader.read_frame',
        'link.on_inbound_frame = lambda frame: None',
        'link.blocking_read = blocking_read',
        "setattr(link, 'drain_events', blocking_read)",
        'super()._setup_transport', 'writer.__closure__',
        'link._transport', 'channel._pending', 'msg._pending_chunks',
    ])
