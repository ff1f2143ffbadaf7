"""Target: fields, copies with overrides, equality, repr, legacy namespaces."""
import messaging
from messaging import Target


def test_defaults_are_all_unset_and_accessible():
    target = Target()
    assert (target.exchange, target.topic, target.namespace, target.version,
            target.server, target.fanout) == (None,) * 6
    assert target.accessible is True
    assert target.legacy_namespaces == [None]


def test_fields_are_kept():
    target = Target(exchange='e', topic='t', namespace='ns', version='1.3',
                    server='s', fanout=True, legacy_namespaces=['old'],
                    accessible=False)
    assert (target.exchange, target.topic, target.namespace, target.version,
            target.server, target.fanout, target.accessible) == (
        'e', 't', 'ns', '1.3', 's', True, False)


def test_legacy_namespaces_always_include_the_default_namespace():
    assert Target(legacy_namespaces=['a', 'b']).legacy_namespaces == [None, 'a', 'b']
    assert Target(legacy_namespaces=('a',)).legacy_namespaces == [None, 'a']


def test_call_returns_a_copy_with_overrides():
    base = Target(exchange='e', topic='t', namespace='ns', version='1.0',
                  legacy_namespaces=['old'], accessible=False)
    copy = base(server='s1', version='1.5')
    assert copy is not base
    assert (copy.exchange, copy.topic, copy.namespace, copy.version, copy.server,
            copy.accessible) == ('e', 't', 'ns', '1.5', 's1', False)
    assert copy.legacy_namespaces == [None, 'old']
    assert (base.server, base.version) == (None, '1.0')


def test_call_without_arguments_gives_an_equal_copy():
    base = Target(topic='t', server='s', fanout=False, legacy_namespaces=['x'])
    copy = base()
    assert copy == base and copy is not base
    assert copy.legacy_namespaces == [None, 'x']


def test_call_can_reset_a_field_to_none():
    assert Target(topic='t', server='s')(server=None).server is None


def test_call_can_replace_legacy_namespaces():
    assert Target(legacy_namespaces=['a'])(legacy_namespaces=['b']).legacy_namespaces == [
        None, 'b']


def test_equality_compares_every_field():
    assert Target(topic='t', server='s') == Target(topic='t', server='s')
    assert not (Target(topic='t') != Target(topic='t'))
    assert Target(topic='t') != Target(topic='u')
    assert Target(topic='t') != Target(topic='t', fanout=True)
    assert Target(topic='t') != Target(topic='t', accessible=False)
    assert Target(topic='t') != Target(topic='t', legacy_namespaces=['x'])
    assert Target(topic='t') != 't'


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
    assert Target().accepted_namespaces == [None]
    assert Target(namespace='ns').accepted_namespaces == ['ns']
    assert Target(legacy_namespaces=['old']).accepted_namespaces == [None, 'old']


def test_copy_keeps_accepted_namespaces_in_step_with_overrides():
    copy = Target(namespace='a', legacy_namespaces=['old'])(namespace='b')
    assert copy.accepted_namespaces == ['b', 'old']
