"""The built documentation: it builds with warnings as errors, the index
reaches every page, the migration guide shows every row the code yields, and
the API reference describes each class once."""
import collections
import os
import re

import pytest

from tests.docs import html_tables
from tests.docs.conftest import BUILD_TIMEOUT, DOC_SOURCE

# The first test waits for the docs build (seconds alone, a few minutes on a
# loaded machine); the project's 120 s per-test limit would cut it short.
pytestmark = pytest.mark.timeout(BUILD_TIMEOUT + 60)


def test_index_links_every_page(built_html):
    pages = {name[:-len('.rst')] for name in os.listdir(DOC_SOURCE) if name.endswith('.rst')}
    pages.discard('index')
    index = (built_html / 'index.html').read_text(encoding='utf-8')
    linked = {link.split('#')[0][:-len('.html')] for link in html_tables.links(index)
              if link.split('#')[0].endswith('.html')}
    assert pages <= linked, 'pages missing from the index: %s' % sorted(pages - linked)
    assert 'troubleshooting' in pages and 'changelog' in pages


def test_migration_guide_shows_every_row_of_the_table(built_html, surface):
    html = (built_html / 'migrating.html').read_text(encoding='utf-8')
    shown = {tuple(row) for row in html_tables.table_rows(html)}
    expected = [row for section in surface.all_rows().values() for row in section]
    missing = [row for row in expected
               if (row.key, row.oslo, row.status, row.note) not in shown]
    assert not missing, 'rows missing from migrating.html: %s' % missing[:5]
    # Every oslo.messaging option, entry point and name has its row.
    snapshot = surface.load_snapshot()
    assert len(expected) >= (len(snapshot['options']) + len(snapshot['entry_points'])
                             + len(snapshot['names']))


def test_migration_guide_marks_kafka_not_supported(built_html):
    html = (built_html / 'migrating.html').read_text(encoding='utf-8')
    rows = html_tables.table_rows(html)
    kafka = [row for row in rows if row[0] == 'oslo.messaging.drivers: kafka']
    assert kafka and kafka[0][2] == 'not supported'
    assert any(row[0] == 'AMQP 1.0 (amqp://)' and row[2] == 'not supported' for row in rows)


def test_reference_describes_each_class_and_function_once(built_html):
    html = (built_html / 'reference.html').read_text(encoding='utf-8')
    described = re.findall(
        r'<dl class="py (?:class|exception|function)">\s*<dt class="[^"]*" id="([^"]+)"', html)
    counts = collections.Counter(target.rsplit('.', 1)[-1] for target in described)
    assert {'TransportURL', 'TransportHost', 'InvalidTransportURL'} <= set(counts)
    assert [name for name, count in counts.items() if count > 1] == []


def test_the_migration_guide_gives_the_in_place_install_once():
    # Two branches wrote an in-place section; a merge that keeps both
    # would tell users the same thing twice, in two ways.
    with open(os.path.join(DOC_SOURCE, 'migrating.rst'), encoding='utf-8') as stream:
        installs = [line for line in stream if re.search(r'pip install .*inplace', line)]
    assert len(installs) == 1, installs
