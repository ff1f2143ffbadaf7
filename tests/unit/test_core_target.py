"""Target: fields, copies with overrides, equality, repr, accepted namespaces (as oslo's)."""
import pytest

import messaging
from messaging import Target


def test_defaults_are_all_unset():
    target = Target()
    assert (target.exchange, target.topic, target.namespace, target.version,
            target.server, target.fanout) == (None,) * 6
    assert target.accepted_namespaces == [None]


def test_fields_are_kept():
    target = Target(exchange='e', topic='t', namespace='ns', version='1.3',
                    server='s', fanout=True, legacy_namespaces=['old'])
    assert (target.exchange, target.topic, target.namespace, target.version,
            target.server, target.fanout) == ('e', 't', 'ns', '1.3', 's', True)


def test_accessible_is_not_a_field_as_in_oslo():
    with pytest.raises(TypeError):
        Target(accessible=False)


def test_call_returns_a_copy_with_overrides():
    base = Target(exchange='e', topic='t', namespace='ns', version='1.0')
    copy = base(server='s1', version='1.5')
    assert copy is not base
    assert (copy.exchange, copy.topic, copy.namespace, copy.version, copy.server) == (
        'e', 't', 'ns', '1.5', 's1')
    assert (base.server, base.version) == (None, '1.0')


def test_call_without_arguments_gives_an_equal_copy():
    base = Target(topic='t', server='s', fanout=False)
    copy = base()
    assert copy == base and copy is not base


def test_a_copy_drops_legacy_namespaces_unless_given_as_oslo_does():
    base = Target(namespace='a', legacy_namespaces=['old'])
    assert base(namespace='b').accepted_namespaces == ['b']
    assert base(legacy_namespaces=['x']).accepted_namespaces == ['a', 'x']


def test_call_can_reset_a_field_to_none():
    assert Target(topic='t', server='s')(server=None).server is None


def test_equality_compares_every_field():
    assert Target(topic='t', server='s') == Target(topic='t', server='s')
    assert not (Target(topic='t') != Target(topic='t'))
    assert Target(topic='t') != Target(topic='u')
    assert Target(topic='t') != Target(topic='t', fanout=True)
    assert Target(topic='t') != Target(topic='t', legacy_namespaces=['x'])


def test_targets_are_hashable():
    target = Target(topic='t')
    assert {target: 1}[target] == 1


def test_repr_lists_set_fields_only():
    text = repr(Target(exchange='e', topic='t', server='s', version='2.1', fanout=True))
    assert text == '<Target exchange=e, topic=t, version=2.1, server=s, fanout=True>'
    assert repr(Target()) == '<Target >'
    assert 'namespace' not in repr(Target(topic='t'))


def test_target_is_exported():
    assert messaging.Target is Target


def test_accepted_namespaces_are_the_own_then_the_legacy_ones():
    assert Target(namespace='new', legacy_namespaces=['old']).accepted_namespaces == [
        'new', 'old']
    assert Target(namespace='ns').accepted_namespaces == ['ns']
    assert Target(legacy_namespaces=['old']).accepted_namespaces == [None, 'old']
