"""messaging installed in place of oslo.messaging, as a service's venv gets it.

Each test runs a fresh interpreter of a venv holding both distributions
(``inplace_python``) or one with messaging alone on its path.
"""
import pytest

from tests.inplace.conftest import run_python

# Every public module path of oslo.messaging 18.3.1 that services import.
PUBLIC_MODULES = (
    'rpc', 'rpc.client', 'rpc.dispatcher', 'rpc.server', 'rpc.transport',
    'notify', 'notify.notifier', 'notify.listener', 'notify.dispatcher',
    'notify.filter', 'notify.middleware', 'notify.log_handler', 'notify.logger',
    'notify.messaging', 'serializer', 'server', 'target', 'transport', 'exceptions',
    'conffixture', 'opts')
# What a bare ``import oslo_messaging`` makes reachable as attributes in 18.3.1.
REACHABLE_AFTER_IMPORT = (
    'exceptions', 'notify', 'notify.dispatcher', 'notify.filter', 'notify.listener',
    'notify.log_handler', 'notify.logger', 'notify.notifier', 'rpc', 'rpc.client',
    'rpc.dispatcher', 'rpc.server', 'rpc.transport', 'serializer', 'server', 'target',
    'transport')
# oslo.messaging 18.3.1's entry points, less its kafka driver (we have none).
OSLO_ENTRY_POINTS = {
    'oslo.messaging.drivers': ['fake', 'kombu', 'rabbit'],
    'oslo.messaging.executors': ['eventlet', 'threading'],
    'oslo.messaging.notify.drivers': ['log', 'messaging', 'messagingv2', 'noop',
                                      'routing', 'test'],
    'oslo.config.opts': ['oslo.messaging'],
}


def test_every_public_module_path_is_our_module_object(inplace_python):
    checks = run_python(inplace_python, '''
        import importlib, json, sys
        import oslo_messaging
        import messaging
        paths = %r
        same = {path: importlib.import_module('oslo_messaging.' + path)
                      is importlib.import_module('messaging.' + path) for path in paths}
        twins = [name for name, module in sys.modules.items()
                 if name.startswith('oslo_messaging') and module is not None
                 and not module.__name__.startswith('messaging')]
        print(json.dumps({'top': oslo_messaging is messaging, 'same': same,
                          'twins': twins,
                          'installed': messaging.__file__.startswith(sys.prefix)}))
        ''' % (PUBLIC_MODULES,))
    assert checks['installed'], 'the venv imported another copy of messaging'
    assert checks['top']
    assert checks['same'] == {path: True for path in PUBLIC_MODULES}
    assert checks['twins'] == []


def test_a_submodule_imported_first_by_its_oslo_name_is_ours(inplace_python):
    checks = run_python(inplace_python, '''
        import json
        from oslo_messaging.rpc.client import RPCClient
        from oslo_messaging import conffixture
        import messaging.rpc.client
        import messaging.conffixture
        print(json.dumps([RPCClient is messaging.rpc.client.RPCClient,
                          conffixture is messaging.conffixture]))
        ''')
    assert checks == [True, True]


def test_patches_and_isinstance_through_oslo_names_act_on_our_code(inplace_python):
    checks = run_python(inplace_python, '''
        import json
        from unittest import mock
        import oslo_messaging
        from messaging import target
        from messaging.rpc import client
        with mock.patch('oslo_messaging.rpc.client.RPCClient.can_send_version',
                        return_value='patched'):
            patched = client.RPCClient.can_send_version(None)
        made = oslo_messaging.Target(topic='t')
        print(json.dumps([patched, isinstance(made, target.Target),
                          oslo_messaging.rpc.client.RPCClient is client.RPCClient]))
        ''')
    assert checks == ['patched', True, True]


def test_a_bare_import_reaches_the_public_submodules_as_attributes(inplace_python):
    for name in ('oslo_messaging', 'messaging'):
        missing = run_python(inplace_python, '''
            import functools, json
            import %s as package
            def reach(path):
                try:
                    functools.reduce(getattr, path.split('.'), package)
                    return True
                except AttributeError:
                    return False
            print(json.dumps([path for path in %r if not reach(path)]))
            ''' % (name, REACHABLE_AFTER_IMPORT))
        assert missing == [], name


def test_import_messaging_as_oslo_messaging_keeps_working(inplace_python):
    checks = run_python(inplace_python, '''
        import json
        import messaging as oslo_messaging
        print(json.dumps(sorted(set(['Notifier', 'RPCClient', 'Target', 'get_rpc_client'])
                                - set(dir(oslo_messaging)))))
        ''')
    assert checks == []


def test_oslo_entry_point_namespaces_load_our_plugins(inplace_python):
    found = run_python(inplace_python, '''
        import json
        from importlib import metadata
        from stevedore import extension
        groups = %r
        out = {}
        for group in groups:
            manager = extension.ExtensionManager(group)
            out[group] = {name: manager[name].plugin.__module__ for name in manager.names()
                          if group != 'oslo.config.opts' or name.startswith('oslo.messaging')}
        print(json.dumps(out))
        ''' % (sorted(OSLO_ENTRY_POINTS),))
    for group, names in OSLO_ENTRY_POINTS.items():
        assert sorted(found[group]) == names, group
        assert all(module.startswith('messaging.') for module in found[group].values())


def test_distribution_metadata_satisfies_services_requirements(inplace_python):
    checks = run_python(inplace_python, '''
        import json, subprocess, sys
        from importlib import metadata
        from packaging.requirements import Requirement
        version = metadata.version('oslo.messaging')
        wanted = ['oslo.messaging>=14.0', 'oslo.messaging>=14.2.0', 'oslo.messaging==18.3.1',
                  'oslo.messaging<=18.3.1', 'oslo.messaging!=18.3.0']
        check = subprocess.run([sys.executable, '-m', 'pip', 'check'],
                               capture_output=True, text=True).stdout
        print(json.dumps({
            'version': version,
            'requires': metadata.requires('oslo.messaging'),
            'satisfied': [Requirement(req).specifier.contains(version) for req in wanted],
            'complaints': [line for line in check.splitlines()
                           if 'messaging' in line.lower()]}))
        ''')
    assert checks['version'].startswith('18.3.1+messaging.')
    assert checks['satisfied'] == [True] * 5
    assert any(req.startswith('messaging') for req in checks['requires'])
    assert checks['complaints'] == []


def test_our_records_reach_the_oslo_messaging_logger_once_at_its_level(inplace_python):
    seen = run_python(inplace_python, '''
        import json, logging
        import oslo_messaging
        from oslo_config import cfg

        def collector(sink):
            handler = logging.Handler()
            # Ours (under our names or, in place, oslo.messaging's), not stevedore's.
            handler.addFilter(lambda record: record.name.split('.')[0] in (
                'messaging', 'oslo_messaging'))
            handler.emit = lambda record: sink.append([record.levelname, record.getMessage(),
                                                       record.name])
            return handler
        on_oslo, on_root = [], []
        logging.getLogger('oslo_messaging').addHandler(collector(on_oslo))
        logging.getLogger().addHandler(collector(on_root))
        logging.getLogger().setLevel(logging.DEBUG)
        logging.getLogger('oslo_messaging').setLevel(logging.INFO)   # oslo.log's default
        ours = logging.getLogger('messaging.rpc.client')
        ours.debug('hidden by oslo_messaging=INFO')
        ours.info('shown')
        conf = cfg.ConfigOpts()
        conf([])
        transport = oslo_messaging.get_notification_transport(conf, 'fake://')
        oslo_messaging.Notifier(transport, driver='no-such-driver')   # logs an ERROR
        logging.getLogger().setLevel(logging.WARNING)
        logging.getLogger('oslo_messaging').setLevel(logging.DEBUG)
        ours.debug('shown by oslo_messaging=DEBUG')
        print(json.dumps({'oslo': on_oslo, 'root': on_root}))
        ''')
    assert seen['oslo'] == seen['root']
    assert [level for level, _message, _name in seen['oslo']] == ['INFO', 'ERROR', 'DEBUG']
    assert seen['oslo'][0][1] == 'shown'
    # The notifier logs under oslo.messaging's name for it (messaging.log_names).
    assert 'no-such-driver' in seen['oslo'][1][1]
    assert seen['oslo'][1][2] == 'oslo_messaging.notify.notifier'


def test_out_of_place_our_records_go_to_root_once(inplace_python):
    seen = run_python(inplace_python, '''
        import json, logging
        import messaging
        sink = []
        handler = logging.Handler()
        handler.emit = lambda record: sink.append(record.getMessage())
        logging.getLogger().addHandler(handler)
        logging.getLogger('messaging.server').warning('once')
        print(json.dumps(sink))
        ''')
    assert seen == ['once']


@pytest.mark.parametrize('import_name, expected', [
    # In place: the plugins are written against oslo_messaging, which is us.
    ('oslo_messaging', [[['thing.happened', 'INFO']], ['thirdparty']]),
    # Out of place: oslo's namespaces are not ours to load from.
    ('messaging', 'not loaded'),
])
def test_drivers_under_oslo_namespaces_are_used_only_in_place(
        inplace_python, thirdparty_dir, import_name, expected):
    seen = run_python(inplace_python, '''
        import json, sys
        import %s as library
        from oslo_config import cfg
        conf = cfg.ConfigOpts()
        conf([])
        transport = library.get_notification_transport(conf, 'fake://')
        library.Notifier(transport, 'p', driver='thirdparty', topics=['t']).info(
            {}, 'thing.happened', {})
        try:
            library.get_rpc_transport(conf, 'thirdparty://host/')
        except library.DriverLoadFailure:
            assert 'thirdparty_plugins' not in sys.modules
            print(json.dumps('not loaded'))
        else:
            import thirdparty_plugins
            print(json.dumps([thirdparty_plugins.SENT, thirdparty_plugins.BUILT]))
        ''' % import_name, pythonpath=(thirdparty_dir,))
    assert seen == expected


def test_messaging_alone_installs_no_oslo_messaging(messaging_only_dir):
    assert not (messaging_only_dir / 'oslo_messaging').exists()
    assert not list(messaging_only_dir.glob('oslo*messaging*'))
    entry_points = next(messaging_only_dir.glob('messaging-*.dist-info')) / 'entry_points.txt'
    text = entry_points.read_text()
    assert '[oslo.messaging' not in text
    assert 'oslo.messaging =' not in text


@pytest.mark.interop
def test_messaging_alone_next_to_a_real_oslo_messaging_leaves_it_alone(
        oslo_python, messaging_only_dir):
    seen = run_python(oslo_python, '''
        import json
        from importlib import metadata
        import messaging
        import oslo_messaging
        from stevedore import driver
        print(json.dumps([messaging.__file__, oslo_messaging is messaging,
                          oslo_messaging.__file__, metadata.version('oslo.messaging'),
                          driver.DriverManager('oslo.messaging.drivers', 'rabbit')
                          .driver.__module__]))
        ''', pythonpath=(messaging_only_dir,))
    ours, same, theirs, version, rabbit = seen
    assert ours.startswith(str(messaging_only_dir))
    assert not same
    assert not theirs.startswith(str(messaging_only_dir))
    assert version == '18.3.1'
    assert rabbit.startswith('oslo_messaging.')
