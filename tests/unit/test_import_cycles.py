"""No two modules of the library import each other, directly or through others.

Every ``import`` and ``from ... import`` of a ``messaging`` module counts,
at module level and inside functions alike (a function-level import that
closes a cycle is a cycle put off, not removed). A package's ``__init__``
re-exporting its modules is not an edge from those modules to it: importing
``messaging.rpc.client`` runs ``messaging/rpc/__init__.py`` first by
Python's rules, not because the module asked for it.
"""
from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / 'messaging'


def module_names() -> dict[str, Path]:
    names = {}
    for path in PACKAGE.rglob('*.py'):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix('').parts)
        if parts[-1] == '__init__':
            parts.pop()
        names['.'.join(parts)] = path
    return names


def imported_modules(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The library modules ``name`` imports anywhere in its code."""
    package = name if path.name == '__init__.py' else name.rpartition('.')[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split('.')[:len(package.split('.')) - node.level + 1]
                source = '.'.join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ''
            for alias in node.names:
                submodule = '%s.%s' % (source, alias.name)
                found.add(submodule if submodule in modules else source)
    return {module for module in found if module in modules and module != name}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(graph[node]):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def test_no_module_imports_itself_back():
    modules = module_names()
    graph = {name: imported_modules(name, path, modules) for name, path in modules.items()}
    assert cycles(graph) == []


def test_the_walker_finds_a_cycle_through_a_function_level_import():
    graph = {'a': {'b'}, 'b': {'c'}, 'c': {'a'}, 'd': {'a'}}
    assert cycles(graph) == [['a', 'b', 'c']]
    source = 'def late():\n    from messaging import wire\n'
    tree_path = PACKAGE / 'wire.py'
    assert 'messaging.wire' in imported_modules(
        'messaging.x', _Written(tree_path, source), {'messaging.wire': tree_path,
                                                       'messaging.x': tree_path})


class _Written:
    """A stand-in path whose text is given (for the walker's own test)."""

    def __init__(self, path: Path, text: str) -> None:
        self.name = path.name
        self._text = text

    def read_text(self) -> str:
        return self._text
