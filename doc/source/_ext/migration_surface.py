"""The migration table: oslo.messaging 18.3.1's surface against our code.

The oslo side is the committed snapshot ``_data/oslo_messaging_surface.json``
(written by ``doc/tools/snapshot_oslo_surface.py``). Our side is read from the
tree being documented, at every docs build: ``messaging.opts.list_opts()``
for options, ``setup.cfg`` (and the in-place distribution's metadata under
``inplace/`` when it is there) for drivers, executors and other entry points,
and the ``messaging`` modules for public names. A status follows from the
comparison; ``migration_notes`` only explains.
"""
from __future__ import annotations

import configparser
import dataclasses
import importlib
import json
import os
from typing import Any, Optional

import migration_notes
from surface_facts import option_facts, parameters

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, '..', '..', '..'))
SNAPSHOT = os.path.join(HERE, '..', '_data', 'oslo_messaging_surface.json')

AS_IS = 'supported as is'
DIFFERENT = 'supported with a difference'
UNSUPPORTED = 'not supported'
OURS_ONLY = 'ours only'

# oslo.messaging's entry-point groups and the groups our distribution uses
# for the same plug-ins.
ENTRY_POINT_GROUPS = {
    'oslo.messaging.drivers': 'messaging.drivers',
    'oslo.messaging.executors': 'messaging.executors',
    'oslo.messaging.notify.drivers': 'messaging.notify.drivers',
    'oslo.config.opts': 'oslo.config.opts',
    'console_scripts': 'console_scripts',
}
ENTRY_POINT_KINDS = {
    'oslo.messaging.drivers': 'transport driver',
    'oslo.messaging.executors': 'executor',
    'oslo.messaging.notify.drivers': 'notification driver',
    'oslo.config.opts': 'option list for oslo-config-generator',
    'console_scripts': 'command',
}


@dataclasses.dataclass(frozen=True)
class Row:
    """One line of the table: what oslo.messaging has and how we stand."""

    kind: str
    key: str
    oslo: str
    status: str
    note: str


def load_snapshot(path: str = SNAPSHOT) -> dict:
    """The recorded oslo.messaging surface."""
    with open(path, encoding='utf-8') as stream:
        return json.load(stream)


def _status(found: bool, differences: list[str], key: str) -> tuple[str, str]:
    """The status and note of a row from what the comparison found."""
    note = migration_notes.note_for(key, found)
    if not found:
        return UNSUPPORTED, note or 'not provided'
    text = '; '.join(differences + ([note] if note else []))
    return (DIFFERENT if differences or note else AS_IS), text


def option_key(group: str, name: str) -> str:
    return '[%s] %s' % (group, name)


def our_options() -> dict[tuple[str, str], dict]:
    """Our options as facts, by (group, name)."""
    from messaging import opts
    return {(facts['group'], facts['name']): facts
            for facts in (option_facts(group, opt)
                          for group, group_opts in opts.list_opts() for opt in group_opts)}


def option_rows(snapshot: dict, ours: Optional[dict] = None) -> list[Row]:
    """A row per oslo.messaging option."""
    ours = our_options() if ours is None else ours
    rows = []
    for theirs in snapshot['options']:
        key = option_key(theirs['group'], theirs['name'])
        mine = ours.get((theirs['group'], theirs['name']))
        differences = [] if mine is None else option_differences(theirs, mine)
        status, note = _status(mine is not None, differences, key)
        rows.append(Row('option', key, 'default %s' % show(theirs['default']), status, note))
    return rows


def option_differences(theirs: dict, mine: dict) -> list[str]:
    """What a configuration file would notice between two options."""
    differences = []
    if theirs['type'] != mine['type']:
        differences.append('type %s (oslo.messaging: %s)' % (mine['type'], theirs['type']))
    if theirs['default'] != mine['default']:
        differences.append('default %s here' % show(mine['default']))
    lost = sorted(set(theirs['deprecated_names']) - set(mine['deprecated_names']))
    if lost:
        differences.append('old name%s %s not accepted' % (
            's' if len(lost) > 1 else '', ', '.join(lost)))
    return differences


def extra_option_rows(snapshot: dict, ours: Optional[dict] = None) -> list[Row]:
    """A row per option we have and oslo.messaging does not."""
    ours = our_options() if ours is None else ours
    theirs = {(opt['group'], opt['name']) for opt in snapshot['options']}
    return [Row('option', option_key(*where), 'none', OURS_ONLY,
                'default %s' % show(facts['default']))
            for where, facts in sorted(ours.items()) if where not in theirs]


def show(value: Any) -> str:
    """A default as a configuration file would spell it."""
    if value is None:
        return '(none)'
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return ','.join(str(item) for item in value) or '(empty list)'
    if value == '':
        return '(empty)'
    return str(value)


def read_entry_points(project_dir: str) -> set[tuple[str, str]]:
    """(group, name) of every entry point a project's setup.cfg or
    pyproject.toml declares; empty when it has neither."""
    found: set[tuple[str, str]] = set()
    setup_cfg = os.path.join(project_dir, 'setup.cfg')
    if os.path.exists(setup_cfg):
        parser = configparser.ConfigParser()
        parser.read(setup_cfg, encoding='utf-8')
        if parser.has_section('options.entry_points'):
            for group, lines in parser.items('options.entry_points'):
                for line in lines.splitlines():
                    if '=' in line:
                        found.add((group, line.split('=', 1)[0].strip()))
    pyproject = os.path.join(project_dir, 'pyproject.toml')
    if os.path.exists(pyproject):
        import tomllib
        with open(pyproject, 'rb') as stream:
            project = tomllib.load(stream).get('project', {})
        for group, names in project.get('entry-points', {}).items():
            found.update((group, name) for name in names)
        found.update(('console_scripts', name) for name in project.get('scripts', {}))
    return found


def entry_point_rows(snapshot: dict, ours: Optional[set] = None,
                     in_place: Optional[set] = None) -> list[Row]:
    """A row per entry point of the oslo.messaging distribution."""
    ours = read_entry_points(REPO) if ours is None else ours
    in_place = read_entry_points(os.path.join(REPO, 'inplace')) if in_place is None else in_place
    rows = []
    for entry in snapshot['entry_points']:
        group, name = entry['group'], entry['name']
        key = '%s: %s' % (group, name)
        same_name = migration_notes.OUR_ENTRY_POINT_NAMES.get((group, name), name)
        differences = []
        found = (group, name) in in_place
        if not found and (ENTRY_POINT_GROUPS[group], same_name) in ours:
            found = True
            if same_name != name or ENTRY_POINT_GROUPS[group] != group:
                differences.append('%s: %s here' % (ENTRY_POINT_GROUPS[group], same_name))
        status, note = _status(found, differences, key)
        rows.append(Row(ENTRY_POINT_KINDS[group], key, entry['value'], status, note))
    return rows


def our_module(oslo_module: str) -> str:
    return 'messaging' + oslo_module[len('oslo_messaging'):]


def lookup(module: str, name: str) -> Any:
    """``module.name``, or None when either is missing."""
    try:
        return getattr(importlib.import_module(module), name, None)
    except ImportError:
        return None


def name_rows(snapshot: dict) -> list[Row]:
    """A row per public class and function of oslo.messaging."""
    top_level = set(snapshot['top_level'])
    rows = []
    for entry in snapshot['names']:
        key = '%s.%s' % (entry['module'], entry['name'])
        mine = lookup(our_module(entry['module']), entry['name'])
        differences = []
        if mine is None and entry['module'] != 'oslo_messaging':
            mine = lookup('messaging', entry['name'])
            if mine is not None:
                differences.append('import it from messaging, not %s'
                                   % our_module(entry['module']))
        if entry['name'] in top_level and lookup('messaging', entry['name']) is None:
            differences.append('not at the top level of messaging')
        if mine is not None and entry['parameters'] is not None:
            differences.extend(parameter_differences(entry['parameters'], parameters(mine)))
        status, note = _status(mine is not None, differences, key)
        rows.append(Row(entry['kind'], key, signature_text(entry['parameters']), status, note))
    return rows


def signature_text(params: Optional[list[str]]) -> str:
    return '(%s)' % ', '.join(params) if params is not None else '(not recorded)'


def parameter_differences(theirs: list[str], mine: Optional[list[str]]) -> list[str]:
    """How our parameters differ from theirs, as a caller would notice."""
    if mine is None or mine == theirs:
        return []
    theirs_by_name = dict(_split_parameter(param) for param in theirs)
    mine_by_name = dict(_split_parameter(param) for param in mine)
    differences = []
    missing = [name for name in theirs_by_name if name not in mine_by_name]
    if missing:
        differences.append('no parameter %s' % ', '.join(missing))
    added = [name for name in mine_by_name if name not in theirs_by_name]
    if added:
        differences.append('also takes %s' % ', '.join(added))
    for name, default in theirs_by_name.items():
        if name not in mine_by_name or mine_by_name[name] == default:
            continue
        if default is None:
            differences.append('%s is optional here (default %s)' % (name, mine_by_name[name]))
        elif mine_by_name[name] is None:
            differences.append('%s is required here' % name)
        else:
            differences.append('%s defaults to %s here' % (name, mine_by_name[name]))
    if not differences:
        differences.append('parameters in another order: %s' % signature_text(mine))
    return differences


def _split_parameter(param: str) -> tuple[str, Optional[str]]:
    """``'name=default'`` as ``('name', 'default')``; no default is None."""
    name, _, default = param.partition('=')
    return name, (default if _ else None)


def withdrawn_rows() -> list[Row]:
    """What people ask for that oslo.messaging 18.3.1 no longer has either."""
    return [Row(kind, key, 'not in oslo.messaging 18.3.1', UNSUPPORTED, note)
            for kind, key, note in migration_notes.WITHDRAWN]


def all_rows(snapshot: Optional[dict] = None) -> dict[str, list[Row]]:
    """Every section of the table, by section name."""
    snapshot = load_snapshot() if snapshot is None else snapshot
    return {
        'options': option_rows(snapshot),
        'extra-options': extra_option_rows(snapshot),
        'entry-points': entry_point_rows(snapshot),
        'names': name_rows(snapshot),
        'withdrawn': withdrawn_rows(),
    }
