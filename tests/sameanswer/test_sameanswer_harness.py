"""The same-answer harness itself: it runs snippets apart and sees differences."""
import os
import sys
import time

import pytest

from tests.sameanswer import harness


def test_each_library_answers_for_itself(same_answer):
    seen = same_answer.ours.run("observe('name', om.__name__)")
    assert seen == {'name': 'messaging'}
    assert same_answer.oslo.run("observe('name', om.__name__)") == {'name': 'oslo_messaging'}


def test_a_difference_fails_with_both_answers(same_answer):
    with pytest.raises(AssertionError, match='ours .messaging., oslo .oslo_messaging.'):
        same_answer("observe('name', om.__name__)")


def test_separately_returns_both_answers_uncompared(same_answer):
    answers = same_answer.separately("observe('name', om.__name__)")
    assert answers.ours == {'name': 'messaging'}
    assert answers.oslo == {'name': 'oslo_messaging'}


def test_snippets_do_not_share_state(same_answer):
    same_answer("import os; os.environ['SAMEANSWER_MARK'] = '1'")
    seen = same_answer("import os; observe('mark', os.environ.get('SAMEANSWER_MARK'))")
    assert seen == {'mark': None}


def test_target_equality_is_the_same(same_answer):
    same_answer("""
        t = om.Target(topic='a', server='b')
        observe('equal', t == om.Target(topic='a', server='b'))
        observe('repr', repr(t))
        observe('bad', outcome(om.Target, bogus=1))
    """)


def _running_in_group(group: int) -> list[int]:
    """Processes of process group ``group`` that are not zombies."""
    running = []
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            with open('/proc/%s/stat' % entry) as stat:
                fields = stat.read().rsplit(')', 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == group and fields[0] != 'Z':
            running.append(int(entry))
    return running


def test_a_snippet_that_never_ends_leaves_no_process_behind(monkeypatch):
    monkeypatch.setattr(harness, 'SNIPPET_TIMEOUT', 2)
    runner = harness.SnippetRunner(sys.executable, 'messaging')
    group = runner._proc.pid
    with pytest.raises(AssertionError, match='did not finish'):
        runner.run('import time\nwhile True:\n    time.sleep(0.05)\n')
    # SIGKILL is delivered at once, but not awaited: give it a moment.
    deadline = time.monotonic() + 5
    while _running_in_group(group) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _running_in_group(group) == []
