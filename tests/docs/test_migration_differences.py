"""Every bullet of the migration guide's "Known differences in behaviour" is
backed by named tests that exist, so a new bullet without a test fails.

A bullet that says something of oslo.messaging needs a same-answer test
(``tests/sameanswer/``), which runs oslo.messaging 18.3.1 beside us. What
cannot run side by side (a broker that blocks publishers) is backed by our
own tests of it, listed with the same-answer ones.
"""
from __future__ import annotations

import ast
import pathlib
import re

REPO = pathlib.Path(__file__).resolve().parents[2]
PAGE = REPO / 'doc' / 'source' / 'migrating.rst'
SECTION = 'Known differences in behaviour'
DIFFERENCES = 'tests/sameanswer/test_sameanswer_differences.py'
TRANSPORT_URL = 'tests/sameanswer/test_sameanswer_transport_url.py'
RPC = 'tests/sameanswer/test_sameanswer_rpc.py'
PUBLISH = 'tests/unit/test_rabbit_connection_publish.py'
FAULTS = 'tests/faults/test_single_node_faults.py'

# A phrase found in one bullet only -> the tests that would fail if the
# bullet became untrue.
BACKED_BY: dict[str, list[str]] = {
    'repr(TransportURL)': [
        DIFFERENCES + '::test_repr_masks_passwords_that_oslo_prints',
        TRANSPORT_URL + '::test_str_prints_the_url_as_oslo_does',
        TRANSPORT_URL + '::test_repr_keeps_oslo_form_without_a_password',
    ],
    'TransportURL.parse': [
        DIFFERENCES + '::test_parse_refuses_a_port_oslo_lets_through',
        DIFFERENCES + '::test_parse_returns_a_transport_url_given_to_it',
    ],
    'no ``accessible`` argument': [
        DIFFERENCES + '::test_target_takes_no_accessible_argument',
        RPC + '::test_target_fields_copies_and_equality',
    ],
    '``ConfFixture``': [
        DIFFERENCES + '::test_conf_fixture_leaves_set_override_alone_and_old_names_still_work',
    ],
    '``oslo_rpc_server_ping``': [
        DIFFERENCES + '::test_rpc_ping_enabled_is_read_from_the_transports_conf_too',
        RPC + '::test_rpc_dispatcher_built_directly_honours_rpc_ping_enabled',
    ],
    # The option is compared side by side; the bounded wait needs a broker
    # that blocks publishers (a memory alarm), so our own tests back it.
    '``PublishTimeout``': [
        DIFFERENCES + '::test_publish_timeout_is_an_option_of_ours_only',
        PUBLISH + '::test_the_error_names_the_alarm_when_the_broker_blocked_us',
        PUBLISH + '::test_retries_stop_at_the_deadline_with_a_timeout',
        FAULTS + '::test_publishers_fail_clearly_when_a_memory_alarm_outlasts_their_timeout',
        FAULTS + '::test_a_call_waits_out_a_memory_alarm_lifted_before_its_timeout',
    ],
    '``NotificationFilter``': [
        DIFFERENCES + '::test_notification_filter_nested_rules_and_none',
    ],
    'published mandatory': [
        DIFFERENCES + '::test_a_cast_no_server_queue_takes_is_published_again_for_a_while',
        'tests/functional/test_rabbit_unroutable.py'
        '::test_a_cast_to_a_topic_nobody_serves_is_dropped_after_its_window_then_at_once',
    ],
}

HEADING_UNDERLINE = re.compile(r'^([=\-~^"\'`#*+])\1{2,}\s*$')


def section_bullets(text: str, title: str) -> list[str]:
    """The top-level bullets of the reST section ``title``, each as one line
    of text (continuation lines joined, whitespace collapsed).

    :raises ValueError: the page has no section of that title.
    """
    lines = text.splitlines()
    for start, line in enumerate(lines[:-1]):
        if line.strip() == title and HEADING_UNDERLINE.match(lines[start + 1]):
            break
    else:
        raise ValueError('no section %r' % title)
    bullets: list[list[str]] = []
    current = None
    body = lines[start + 2:]
    for number, line in enumerate(body):
        if number + 1 < len(body) and line.strip() and HEADING_UNDERLINE.match(body[number + 1]):
            break  # the next section's title
        if line.startswith('* '):
            current = [line[2:]]
            bullets.append(current)
        elif current is not None and line.startswith('  ') and line.strip():
            current.append(line.strip())
        elif line.strip():
            current = None  # prose, or a nested construct: the bullet has ended
    return [' '.join(' '.join(parts).split()) for parts in bullets]


def defined_tests(path: pathlib.Path) -> set[str]:
    """The test functions of a module, as ``name`` or ``Class::name``."""
    tree = ast.parse(path.read_text(), str(path))
    found = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            found.add(node.name)
        elif isinstance(node, ast.ClassDef):
            found.update('%s::%s' % (node.name, item.name) for item in node.body
                         if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)))
    return {name for name in found if name.rsplit('::', 1)[-1].startswith('test')}


def bullets() -> list[str]:
    """The bullets of the guide's known differences."""
    return section_bullets(PAGE.read_text(), SECTION)


def test_the_section_is_found_with_its_bullets():
    assert len(bullets()) >= len(BACKED_BY)


def test_every_bullet_is_backed_by_tests():
    unbacked = [text for text in bullets() if not any(key in text for key in BACKED_BY)]
    assert not unbacked, ('bullets of "%s" with no entry in BACKED_BY (add the tests '
                          'that would fail if the bullet became untrue):\n%s'
                          % (SECTION, '\n'.join(unbacked)))


def test_every_key_names_exactly_one_bullet():
    texts = bullets()
    for key in BACKED_BY:
        matching = [text for text in texts if key in text]
        assert len(matching) == 1, '%r is in %d bullets: %s' % (key, len(matching), matching)
    for text in texts:
        keys = [key for key in BACKED_BY if key in text]
        assert len(keys) <= 1, 'one bullet, several keys: %s' % keys


def test_every_named_test_exists():
    missing = []
    for key, node_ids in BACKED_BY.items():
        assert node_ids, 'no tests for %r' % key
        for node_id in node_ids:
            path, name = node_id.split('::', 1)
            module = REPO / path
            if not module.is_file() or name not in defined_tests(module):
                missing.append(node_id)
    assert not missing, 'BACKED_BY names tests that do not exist: %s' % missing


def test_a_bullet_about_oslo_messaging_is_checked_side_by_side():
    texts = bullets()
    for key, node_ids in BACKED_BY.items():
        [text] = [text for text in texts if key in text]
        if 'oslo.messaging' in text:
            assert any(node_id.startswith('tests/sameanswer/') for node_id in node_ids), key


def test_section_bullets_reads_continuations_and_stops_at_the_next_section():
    page = ('Title\n-----\n\nIntro.\n\n* ``a`` one\n  two\n* ``b`` three\n\nAfter.\n'
            '  quoted\n\nNext\n----\n\n* ``c`` not in the section\n')
    assert section_bullets(page, 'Title') == ['``a`` one two', '``b`` three']
