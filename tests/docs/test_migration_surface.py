"""The migration table's comparison of oslo.messaging's surface with ours."""
import json
import os
import subprocess

import pytest

from tests.docs.conftest import REPO


def option(group='oslo_messaging_rabbit', name='heartbeat_rate', type_='IntOpt', default=3,
           deprecated=()):
    return {'group': group, 'name': name, 'type': type_, 'default': default,
            'deprecated_names': list(deprecated), 'deprecated_for_removal': False}


def test_an_option_with_the_same_type_default_and_old_names_is_supported_as_is(surface):
    theirs = option(deprecated=['DEFAULT/old_rate'])
    rows = surface.option_rows({'options': [theirs]},
                               ours={(theirs['group'], theirs['name']): dict(theirs)})
    assert rows == [surface.Row('option', '[oslo_messaging_rabbit] heartbeat_rate',
                                'default 3', surface.AS_IS, '')]


def test_an_option_that_differs_says_how(surface):
    theirs = option(deprecated=['DEFAULT/old_rate'])
    mine = option(type_='FloatOpt', default=2.0)
    [row] = surface.option_rows({'options': [theirs]},
                                ours={(mine['group'], mine['name']): mine})
    assert row.status == surface.DIFFERENT
    assert row.note == ('type FloatOpt (oslo.messaging: IntOpt); default 2.0 here; '
                        'old name DEFAULT/old_rate not accepted')


def test_a_missing_option_is_not_supported_with_its_groups_note(surface):
    rows = surface.option_rows({'options': [option(group='oslo_messaging_kafka', name='x'),
                                            option(name='gone')]}, ours={})
    assert [row.status for row in rows] == [surface.UNSUPPORTED] * 2
    assert rows[0].note.startswith('Kafka is not supported')
    assert rows[1].note == 'not provided'


def test_options_only_we_have_are_listed_apart(surface):
    mine = option(name='publish_timeout', type_='FloatOpt', default=60.0)
    rows = surface.extra_option_rows({'options': [option()]},
                                     ours={(mine['group'], mine['name']): mine})
    assert [(row.key, row.status) for row in rows] == [
        ('[oslo_messaging_rabbit] publish_timeout', surface.OURS_ONLY)]


def test_entry_points_count_as_is_once_the_in_place_distribution_has_them(surface):
    snapshot = {'entry_points': [{'group': 'oslo.messaging.drivers', 'name': 'rabbit',
                                  'value': 'x:Y'}]}
    [ours_only] = surface.entry_point_rows(snapshot, ours={('messaging.drivers', 'rabbit')},
                                           in_place=set())
    assert (ours_only.status, ours_only.note) == (surface.DIFFERENT,
                                                  'messaging.drivers: rabbit here')
    [in_place] = surface.entry_point_rows(
        snapshot, ours=set(), in_place={('oslo.messaging.drivers', 'rabbit')})
    assert in_place.status == surface.AS_IS
    [neither] = surface.entry_point_rows(snapshot, ours=set(), in_place=set())
    assert neither.status == surface.UNSUPPORTED


def test_entry_points_are_read_from_setup_cfg_and_pyproject(surface, tmp_path):
    (tmp_path / 'setup.cfg').write_text(
        '[options.entry_points]\nmessaging.drivers =\n    rabbit = a:B\n    fake = a:C\n')
    (tmp_path / 'pyproject.toml').write_text(
        '[project]\nname = "x"\n[project.entry-points."oslo.messaging.drivers"]\n'
        'rabbit = "a:B"\n[project.scripts]\ntool = "a:main"\n')
    assert surface.read_entry_points(str(tmp_path)) == {
        ('messaging.drivers', 'rabbit'), ('messaging.drivers', 'fake'),
        ('oslo.messaging.drivers', 'rabbit'), ('console_scripts', 'tool')}
    assert surface.read_entry_points(str(tmp_path / 'absent')) == set()


@pytest.mark.parametrize('mine, expected', [
    (['conf', 'url=None'], []),
    (['conf'], ['no parameter url']),
    (['conf', 'url=None', 'retry=None'], ['also takes retry']),
    (['conf=None', 'url=None'], ['conf is optional here (default None)']),
    (['conf', 'url'], ['url is required here']),
    (['conf', "url='x'"], ["url defaults to 'x' here"]),
    (['url=None', 'conf'], ['parameters in another order: (url=None, conf)']),
])
def test_parameter_differences_name_what_a_caller_would_notice(surface, mine, expected):
    assert surface.parameter_differences(['conf', 'url=None'], mine) == expected


def test_every_note_names_a_row_that_exists(surface):
    import migration_notes

    keys = {row.key for section in surface.all_rows().values() for row in section}
    assert sorted((set(migration_notes.NOTES) | set(migration_notes.ABSENT_NOTES))
                  - keys) == []
    groups = {opt['group'] for opt in surface.load_snapshot()['options']}
    assert set(migration_notes.GROUP_NOTES) <= groups


def test_the_real_table_knows_our_public_names(surface):
    rows = {row.key: row for row in surface.all_rows()['names']}
    assert rows['oslo_messaging.target.Target'].status != surface.UNSUPPORTED
    assert rows['oslo_messaging.rpc.client.RPCClient'].status != surface.UNSUPPORTED


def test_the_snapshot_is_what_oslo_messaging_says_today(tmp_path):
    # The interop suite's interpreter: MESSAGING_INTEROP_PYTHON, or the
    # repository's .interop-venv once that suite has made it.
    venv_python = os.path.join(REPO, '.interop-venv', 'bin', 'python')
    python = os.environ.get('MESSAGING_INTEROP_PYTHON') or (
        venv_python if os.path.exists(venv_python) else None)
    if not python:
        pytest.skip('no Python with oslo.messaging: MESSAGING_INTEROP_PYTHON is not set '
                    'and there is no .interop-venv')
    fresh = tmp_path / 'surface.json'
    subprocess.run([python, os.path.join(REPO, 'doc', 'tools', 'snapshot_oslo_surface.py'),
                    str(fresh)], check=True, timeout=120, capture_output=True)
    with open(os.path.join(REPO, 'doc', 'source', '_data', 'oslo_messaging_surface.json'),
              encoding='utf-8') as stream:
        assert json.loads(fresh.read_text()) == json.load(stream)


def test_a_what_to_do_instead_note_goes_once_the_thing_is_provided(surface, monkeypatch):
    import migration_notes

    monkeypatch.setitem(migration_notes.ABSENT_NOTES, '[g] gone', 'use x instead')
    snapshot = {'options': [option(group='g', name='gone')]}
    [absent] = surface.option_rows(snapshot, ours={})
    assert (absent.status, absent.note) == (surface.UNSUPPORTED, 'use x instead')
    [present] = surface.option_rows(snapshot, ours={('g', 'gone'): option(group='g',
                                                                          name='gone')})
    assert (present.status, present.note) == (surface.AS_IS, '')
