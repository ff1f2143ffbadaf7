"""messaging._inplace: one library under two import names, in this process.

These use a private alias name so they never touch ``oslo_messaging``; the
installed in-place package is tested in tests/inplace/.
"""
import importlib
import importlib.util
import sys
from unittest import mock

import pytest

import messaging
from messaging import _inplace
from messaging.rpc import client as rpc_client

ALIAS = 'messaging_alias_under_test'


@pytest.fixture
def alias():
    """``ALIAS`` installed for the test; the finder and its modules removed after."""
    package = _inplace.install_alias(ALIAS, 'messaging', _inplace.RENAMED_MODULES)
    yield package
    sys.meta_path[:] = [finder for finder in sys.meta_path
                        if getattr(finder, 'alias', None) != ALIAS]
    for name in [name for name in sys.modules
                 if name == ALIAS or name.startswith(ALIAS + '.')]:
        del sys.modules[name]


def test_the_alias_package_is_the_library_itself(alias):
    assert alias is messaging
    assert importlib.import_module(ALIAS) is messaging


def test_submodules_are_the_same_module_objects(alias):
    for name in ('rpc', 'rpc.client', 'notify.notifier', 'conffixture', 'opts',
                 'notify.middleware', 'drivers.impl_fake'):
        aliased = importlib.import_module('%s.%s' % (ALIAS, name))
        assert aliased is importlib.import_module('messaging.' + name)


def test_a_module_first_imported_through_the_alias_is_loaded_once(tmp_path, monkeypatch):
    target = tmp_path / 'alias_target_pkg'
    (target / 'sub').mkdir(parents=True)
    (target / '__init__.py').write_text('')
    (target / 'sub' / '__init__.py').write_text('')
    (target / 'sub' / 'leaf.py').write_text('LOADS = []\nLOADS.append(__name__)\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    names = ('alias_target_pkg', 'alias_target_pkg.sub', 'alias_target_pkg.sub.leaf',
             'other_alias', 'other_alias.sub', 'other_alias.sub.leaf')
    try:
        _inplace.install_alias('other_alias', 'alias_target_pkg')
        leaf = importlib.import_module('other_alias.sub.leaf')
        assert importlib.import_module('alias_target_pkg.sub.leaf') is leaf
        assert leaf.LOADS == ['alias_target_pkg.sub.leaf']
        assert sys.modules['other_alias.sub'] is sys.modules['alias_target_pkg.sub']
    finally:
        for name in names:
            sys.modules.pop(name, None)
        sys.meta_path[:] = [finder for finder in sys.meta_path
                            if getattr(finder, 'alias', None) != 'other_alias']


def test_an_aliased_module_keeps_its_own_spec(alias):
    module = importlib.import_module(ALIAS + '.rpc.client')
    assert module.__spec__.name == 'messaging.rpc.client'
    assert module.__spec__ is importlib.util.find_spec('messaging.rpc.client')


def test_from_import_through_the_alias_gives_our_classes(alias):
    namespace = {}
    exec('from %s.rpc.client import RPCClient' % ALIAS, namespace)
    assert namespace['RPCClient'] is rpc_client.RPCClient


def test_patching_through_the_alias_patches_our_module(alias):
    with mock.patch('%s.rpc.client.RPCClient.can_send_version' % ALIAS,
                    return_value='patched'):
        assert rpc_client.RPCClient.can_send_version(None) == 'patched'


def test_a_module_the_library_lacks_is_not_found(alias):
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module(ALIAS + '.no_such_module')


def test_a_module_under_a_missing_package_is_not_found_and_the_finder_does_not_raise(alias):
    finder = next(finder for finder in sys.meta_path
                  if getattr(finder, 'alias', None) == ALIAS)
    assert finder.find_spec(ALIAS + '.no_such_package.module') is None
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module(ALIAS + '.no_such_package.module')


def test_renamed_modules_are_ours_under_their_oslo_names(alias):
    from messaging import wire
    from messaging.drivers import base, impl_fake
    from messaging.drivers.rabbit import driver

    assert importlib.import_module(ALIAS + '._drivers.impl_fake') is impl_fake
    assert alias._drivers is importlib.import_module('messaging.drivers')
    assert alias._drivers.base.PollStyleListenerAdapter is base.PollStyleListenerAdapter
    assert importlib.import_module(ALIAS + '._drivers.common') is wire
    assert importlib.import_module(ALIAS + '._drivers.impl_rabbit') is driver


def test_installing_twice_adds_one_finder(alias):
    _inplace.install_alias(ALIAS, 'messaging')
    finders = [finder for finder in sys.meta_path
               if getattr(finder, 'alias', None) == ALIAS]
    assert len(finders) == 1


def test_the_finder_answers_only_for_its_alias(alias):
    finder = next(finder for finder in sys.meta_path
                  if getattr(finder, 'alias', None) == ALIAS)
    assert finder.find_spec('json') is None
    assert finder.find_spec(ALIAS + 'x.rpc') is None


def test_out_of_place_only_our_entry_point_namespaces_are_searched():
    assert not _inplace.is_in_place()
    assert _inplace.entry_point_namespaces('messaging.drivers') == ['messaging.drivers']


def test_in_place_oslo_namespaces_are_searched_after_ours():
    with mock.patch.dict(sys.modules, {'oslo_messaging': messaging}):
        assert _inplace.is_in_place()
        assert _inplace.entry_point_namespaces('messaging.notify.drivers') == [
            'messaging.notify.drivers', 'oslo.messaging.notify.drivers']
