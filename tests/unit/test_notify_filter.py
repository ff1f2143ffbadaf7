"""NotificationFilter: regex rules on every field, nested dicts, wrong types."""
from __future__ import annotations

import re

import pytest

import messaging

NOTIFICATION = dict(
    context={'user': 'alice', 'project': {'id': 'p-1', 'domain': 'default'}, 'roles': 3},
    publisher_id='compute.host1',
    event_type='compute.instance.create.end',
    metadata={'message_id': '1234-abcd', 'timestamp': '2026-11-21 13:15:33.318036'},
    payload={'state': 'active', 'flavor': {'name': 'm1.small', 'ram': 2048}, 'tags': ['x']},
)


def matches(**rules) -> bool:
    return messaging.NotificationFilter(**rules).match(**NOTIFICATION)


def test_empty_filter_matches_everything():
    assert matches()


@pytest.mark.parametrize('field, rule, expected', [
    ('publisher_id', r'compute\..*', True),
    ('publisher_id', 'compute', True),            # re.match: anchored at the start only
    ('publisher_id', 'host1', False),
    ('publisher_id', r'compute$', False),
    ('event_type', r'compute\.instance\.create\..*', True),
    ('event_type', r'^compute\.instance\.delete', False),
])
def test_publisher_id_and_event_type_rules(field, rule, expected):
    assert matches(**{field: rule}) is expected


@pytest.mark.parametrize('field, rule, expected', [
    ('context', {'user': 'ali'}, True),
    ('context', {'user': 'bob'}, False),
    ('context', {'project': {'id': r'p-\d'}}, True),
    ('context', {'project': {'domain': 'other'}}, False),
    ('metadata', {'message_id': r'1234-'}, True),
    ('metadata', {'timestamp': r'2025'}, False),
    ('payload', {'state': 'active', 'flavor': {'name': r'm1\.'}}, True),
    ('payload', {'flavor': {'name': 'm1.large'}}, False),
])
def test_dict_rules_with_nesting(field, rule, expected):
    assert matches(**{field: rule}) is expected


@pytest.mark.parametrize('field, rule', [
    ('context', {'absent': '.*'}),                 # missing key
    ('payload', {'flavor': {'absent': '.*'}}),     # missing nested key
    ('context', {'roles': '3'}),                   # an int is not matched as text
    ('payload', {'flavor': {'ram': '2048'}}),      # nested int
    ('payload', {'tags': 'x'}),                    # a list is not text
    ('payload', {'state': {'nested': '.*'}}),      # nested rule meets a string
])
def test_missing_keys_and_non_string_values_never_match(field, rule):
    assert not matches(**{field: rule})


def test_none_values_do_not_match_a_rule():
    rule = messaging.NotificationFilter(publisher_id='.*', payload={'a': '.*'})
    assert not rule.match({}, None, 'ev', {}, {'a': 1})
    assert not rule.match({}, 'pub', 'ev', {}, None)
    assert rule.match({}, 'pub', 'ev', {}, {'a': ''})


def test_every_rule_must_match():
    assert matches(publisher_id='compute', event_type='compute', payload={'state': 'act'})
    assert not matches(publisher_id='compute', event_type='network')


def test_context_object_is_matched_through_to_dict():
    class Context:
        def to_dict(self):
            return {'user': 'alice'}

    rule = messaging.NotificationFilter(context={'user': 'alice'})
    assert rule.match(Context(), 'pub', 'ev', {}, {})


def test_invalid_regex_fails_when_the_filter_is_built():
    with pytest.raises(re.error):
        messaging.NotificationFilter(event_type='(unclosed')
