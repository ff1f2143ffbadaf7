"""The benchmark page's figures are the ones its table shows, dated and placed.

The page quotes a comparison: it must say when and on what machine it was
made, with which command, and every figure its prose quotes from the run
("580 here") must be in the table the page includes.
"""
import re
from pathlib import Path

from tests.docs.conftest import REPO

PAGE = Path(REPO, 'doc', 'source', 'benchmarks.rst')
TABLE = Path(REPO, 'doc', 'source', '_static', 'bench-table.txt')


def comparison() -> str:
    text = PAGE.read_text(encoding='utf-8')
    start = text.index('Latest comparison\n')
    return text[start:]


def test_the_comparison_says_when_where_and_how_it_was_made():
    section = comparison()
    assert re.search(r'Made on \d{4}-\d{2}-\d{2} between \d{2}:\d{2} and \d{2}:\d{2} UTC',
                     section)
    assert re.search(r'on a \d+-vCPU machine', section)
    assert 'RabbitMQ 3.' in section
    assert re.search(r'python -m messaging\.bench [^\n]*--compare oslo', section)


def test_every_figure_the_prose_quotes_is_in_the_table():
    quoted = re.findall(r'\((\d+)[^()]*? here\)', comparison())
    assert quoted, 'the page quotes no figure of the run'
    table = TABLE.read_text(encoding='utf-8')
    missing = [figure for figure in quoted if not re.search(r'\b%s/s' % figure, table)]
    assert missing == []


def test_the_page_names_no_internal_work_item():
    assert not re.search(r'\bissue \d+', PAGE.read_text(encoding='utf-8'), re.I)
