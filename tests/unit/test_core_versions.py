"""version_is_compatible: the dispatch rule of WIRE.md §3.4."""
import pytest
from hypothesis import given
from hypothesis import strategies as st

from messaging._utils import version_is_compatible


@pytest.mark.parametrize('imp, wanted, ok', [
    ('1.0', '1.0', True),
    ('1.5', '1.0', True),
    ('1.5', '1.5', True),
    ('1.5', '1.6', False),
    ('1.5', '2.0', False),
    ('2.0', '1.0', False),
    ('2.3', '1.9', False),
    ('1.5', '1.5.0', True),
    ('1.5.2', '1.5.1', True),
    ('1.5.2', '1.5.2', True),
    ('1.5.2', '1.5.3', False),
    ('1.5', '1.5.1', False),
    ('1.6', '1.5.9', True),
    ('1.10', '1.9', True),
    ('1.9', '1.10', False),
    # As oslo: no implemented version (no cap) takes anything, no requested
    # version is taken by no other.
    (None, '1.0', True),
    (None, None, True),
    ('1.3', None, False),
    ('2.0', None, False),
    (None, '1.1', True),
])
def test_version_rule(imp, wanted, ok):
    assert version_is_compatible(imp, wanted) is ok


versions = st.tuples(st.integers(0, 30), st.integers(0, 30), st.integers(0, 30))


def text(version, with_rev):
    return '.'.join(str(p) for p in (version if with_rev else version[:2]))


@given(versions, versions, st.booleans(), st.booleans())
def test_compatible_iff_same_major_and_lower_or_equal_minor_revision(imp, wanted,
                                                                       imp_rev, want_rev):
    imp_parts = imp if imp_rev else imp[:2] + (0,)
    want_parts = wanted if want_rev else wanted[:2] + (0,)
    expected = (imp_parts[0] == want_parts[0]
                and (want_parts[1], want_parts[2]) <= (imp_parts[1], imp_parts[2]))
    assert version_is_compatible(text(imp, imp_rev), text(wanted, want_rev)) is expected


@given(versions)
def test_every_version_serves_itself(version):
    assert version_is_compatible(text(version, True), text(version, True))


@given(versions, versions)
def test_compatibility_is_transitive(a, b):
    sa, sb = text(a, True), text(b, True)
    if version_is_compatible(sa, sb):
        for c in (b[:2] + (0,), (b[0], max(0, b[1] - 1), 0)):
            assert version_is_compatible(sa, text(c, True)) or not version_is_compatible(
                sb, text(c, True))
