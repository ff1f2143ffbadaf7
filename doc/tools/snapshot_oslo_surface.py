"""Write the public surface of an installed oslo.messaging as JSON.

Run with the interpreter that has oslo.messaging (not ours)::

    /work/main/.interop-venv/bin/python doc/tools/snapshot_oslo_surface.py \
        doc/source/_data/oslo_messaging_surface.json

The file lists facts only: every option (group, name, type, default,
deprecated names), every entry point of the distribution, and every public
class and function with the module that defines it and its parameters. The
migration guide's table (``doc/source/_ext/migration_surface.py``) compares
our code against it at every docs build, both sides described by the same
``surface_facts`` functions, so the guide follows our code while this file
stays the fixed picture of the release we replace.
"""
from __future__ import annotations

import ast
import importlib
import importlib.metadata
import importlib.util
import inspect
import json
import os
import pkgutil
import sys
import warnings

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..', 'source', '_ext'))
from surface_facts import option_facts, parameters  # noqa: E402

DISTRIBUTION = 'oslo.messaging'
PACKAGE = 'oslo_messaging'


def options() -> list[dict]:
    from oslo_messaging import opts
    return [option_facts(group, opt) for group, group_opts in opts.list_opts()
            for opt in group_opts]


def entry_points() -> list[dict]:
    dist = importlib.metadata.distribution(DISTRIBUTION)
    return sorted(({'group': ep.group, 'name': ep.name, 'value': ep.value}
                   for ep in dist.entry_points),
                  key=lambda ep: (ep['group'], ep['name']))


def public_modules() -> list[str]:
    package = importlib.import_module(PACKAGE)
    names = [PACKAGE]
    for info in pkgutil.walk_packages(package.__path__, PACKAGE + '.'):
        parts = info.name.split('.')
        if any(part.startswith('_') or part in ('tests', 'hacking') for part in parts):
            continue
        names.append(info.name)
    return names


def defined_names(module_name: str) -> list[dict]:
    """Public classes and functions defined in (not imported into) a module."""
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return names_from_source(module_name)
    found = []
    for name, value in vars(module).items():
        if name.startswith('_') or not (inspect.isclass(value) or inspect.isfunction(value)):
            continue
        if getattr(value, '__module__', None) != module_name:
            continue
        found.append({'module': module_name, 'name': name,
                      'kind': 'class' if inspect.isclass(value) else 'function',
                      'parameters': parameters(value)})
    return found


def names_from_source(module_name: str) -> list[dict]:
    """The same, read from the source of a module that cannot be imported
    here (``conffixture`` needs ``fixtures``, absent from some venvs)."""
    spec = importlib.util.find_spec(module_name)
    with open(spec.origin, encoding='utf-8') as stream:
        tree = ast.parse(stream.read())
    found = []
    for node in tree.body:
        if isinstance(node, (ast.ClassDef, ast.FunctionDef)) and not node.name.startswith('_'):
            found.append({'module': module_name, 'name': node.name,
                          'kind': 'class' if isinstance(node, ast.ClassDef) else 'function',
                          'parameters': source_parameters(node)})
    return found


def source_parameters(node) -> list[str] | None:
    """Parameter names (defaults as written) of a function or class node."""
    if isinstance(node, ast.ClassDef):
        inits = [item for item in node.body
                 if isinstance(item, ast.FunctionDef) and item.name == '__init__']
        if not inits:
            return None
        node = inits[0]
    args = node.args
    positional = args.posonlyargs + args.args
    defaults = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
    params = ['%s=%s' % (arg.arg, ast.unparse(default)) if default is not None else arg.arg
              for arg, default in zip(positional, defaults) if arg.arg != 'self']
    if args.vararg:
        params.append('*' + args.vararg.arg)
    for arg, default in zip(args.kwonlyargs, args.kw_defaults):
        params.append('%s=%s' % (arg.arg, ast.unparse(default)) if default else arg.arg)
    if args.kwarg:
        params.append('**' + args.kwarg.arg)
    return params


def surface() -> dict:
    package = importlib.import_module(PACKAGE)
    names = [entry for module in public_modules() for entry in defined_names(module)]
    return {
        'distribution': DISTRIBUTION,
        'version': importlib.metadata.version(DISTRIBUTION),
        'options': options(),
        'entry_points': entry_points(),
        'names': sorted(names, key=lambda entry: (entry['module'], entry['name'])),
        'top_level': sorted(name for name in dir(package) if not name.startswith('_')
                            and not inspect.ismodule(getattr(package, name))),
    }


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        sys.stderr.write(__doc__)
        return 2
    warnings.simplefilter('ignore')
    data = surface()
    with open(argv[0], 'w', encoding='utf-8') as stream:
        json.dump(data, stream, indent=1, sort_keys=True)
        stream.write('\n')
    sys.stderr.write('%s %s: %d options, %d entry points, %d names -> %s\n'
                     % (DISTRIBUTION, data['version'], len(data['options']),
                        len(data['entry_points']), len(data['names']),
                        os.path.abspath(argv[0])))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
