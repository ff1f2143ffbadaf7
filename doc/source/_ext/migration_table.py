"""Sphinx directives that draw the migration table from the code.

``.. migration-table:: options`` (or ``extra-options``, ``entry-points``,
``names``, ``withdrawn``) renders one section of
:func:`migration_surface.all_rows` as a table; ``.. migration-summary::``
counts the rows by status. Both are computed at build time, so the guide
changes when an option, a driver or a public name changes.
"""
from __future__ import annotations

import collections
from typing import Any

from docutils import nodes
from docutils.parsers.rst import Directive

import migration_surface

HEADERS = {
    'options': ('oslo.messaging option', 'oslo.messaging', 'status', 'difference or note'),
    'extra-options': ('option', 'oslo.messaging', 'status', 'default'),
    'entry-points': ('entry point', 'oslo.messaging', 'status', 'difference or note'),
    'names': ('public name', 'oslo.messaging parameters', 'status', 'difference or note'),
    'withdrawn': ('what', 'oslo.messaging', 'status', 'what to do instead'),
}
WIDTHS = (30, 20, 12, 38)

_ROWS_CACHE: dict[str, Any] = {}


def rows() -> dict[str, list[migration_surface.Row]]:
    """Every section, computed once per build."""
    if 'rows' not in _ROWS_CACHE:
        _ROWS_CACHE['rows'] = migration_surface.all_rows()
    return _ROWS_CACHE['rows']


def _entry(text: str, literal: bool = False) -> nodes.entry:
    paragraph = nodes.paragraph()
    paragraph += nodes.literal(text=text) if literal else nodes.Text(text)
    entry = nodes.entry()
    entry += paragraph
    return entry


def build_table(section: str, section_rows: list[migration_surface.Row]) -> nodes.table:
    """A docutils table of one section, a row per line, key as literal."""
    table = nodes.table(classes=['migration-table', 'migration-%s' % section])
    group = nodes.tgroup(cols=len(WIDTHS))
    table += group
    for width in WIDTHS:
        group += nodes.colspec(colwidth=width)
    head = nodes.thead()
    header_row = nodes.row()
    for title in HEADERS[section]:
        header_row += _entry(title)
    head += header_row
    group += head
    body = nodes.tbody()
    for row in section_rows:
        line = nodes.row(classes=['status-%s' % row.status.replace(' ', '-')])
        line += _entry(row.key, literal=True)
        line += _entry(row.oslo)
        line += _entry(row.status)
        line += _entry(row.note)
        body += line
    group += body
    return table


class MigrationTable(Directive):
    """``.. migration-table:: SECTION``"""

    required_arguments = 1
    has_content = False

    def run(self) -> list[nodes.Node]:
        section = self.arguments[0]
        if section not in HEADERS:
            raise self.error('unknown migration table section %r (one of %s)'
                             % (section, ', '.join(HEADERS)))
        return [build_table(section, rows()[section])]


class MigrationSummary(Directive):
    """``.. migration-summary::``: the count of each status over the table."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        items = nodes.bullet_list()
        for section in ('options', 'entry-points', 'names'):
            counts = collections.Counter(row.status for row in rows()[section])
            text = '%s: %d rows; %s' % (
                HEADERS[section][0].replace('oslo.messaging ', ''), sum(counts.values()),
                ', '.join('%d %s' % (counts[status], status) for status in (
                    migration_surface.AS_IS, migration_surface.DIFFERENT,
                    migration_surface.UNSUPPORTED) if counts[status]))
            item = nodes.list_item()
            item += nodes.paragraph(text=text)
            items += item
        return [items]


def setup(app: Any) -> dict:
    app.add_directive('migration-table', MigrationTable)
    app.add_directive('migration-summary', MigrationSummary)
    # The table depends on the code, not only on the page's source: rebuild
    # the page on every build.
    app.connect('env-get-outdated', lambda app, env, added, changed, removed: ['migrating'])
    return {'parallel_read_safe': True, 'version': '1'}
