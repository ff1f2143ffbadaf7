"""The same-answer harness itself: it runs snippets apart and sees differences."""
import pytest


def test_each_library_answers_for_itself(same_answer):
    seen = same_answer.ours.run("observe('name', om.__name__)")
    assert seen == {'name': 'messaging'}
    assert same_answer.oslo.run("observe('name', om.__name__)") == {'name': 'oslo_messaging'}


def test_a_difference_fails_with_both_answers(same_answer):
    with pytest.raises(AssertionError, match='ours .messaging., oslo .oslo_messaging.'):
        same_answer("observe('name', om.__name__)")


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
