"""The oslo_messaging names services use beyond the public API, in place.

``private_names.csv`` beside this file is the survey: every use of an
``oslo_messaging`` name outside its documented API (private modules and
attributes, undocumented submodule paths, patch targets) in the service
and test code of the OpenStack services and libraries read
(``private_names_summary.md`` says which, at which commits). Each name must
resolve under ``oslo_messaging`` with messaging installed in its place, and
each name a service uses for its behaviour (a registry it resets, a class
it patches or subclasses, options it registers, functions it calls) must
behave as oslo.messaging's does for that use.
"""
import csv
import json
import textwrap
from pathlib import Path

import pytest

from tests.inplace.conftest import run_python

SURVEY = Path(__file__).with_name('private_names.csv')

# Names that cannot be honoured, with the service and why; the migration
# guide lists the same.
NOT_HONOURED = {
    'oslo_messaging._drivers.impl_kafka':
        'ceilometer (a unit test): messaging has no Kafka driver',
    'oslo_messaging._drivers.impl_kafka.KafkaDriver':
        'ceilometer (a unit test): messaging has no Kafka driver',
}
# Names oslo.messaging 18.3.1 lacks too: nova's tests create them with
# fixtures.MonkeyPatch, which works on ours the same way.
ABSENT_IN_OSLO = {'oslo_messaging.rpc.client.call', 'oslo_messaging.rpc.client.cast'}
# Instance attributes: the class they are looked for on, and the code that
# builds an instance in the resolving process (``conf`` and ``om`` defined).
INSTANCES = {
    'oslo_messaging.transport.Transport': "om.get_rpc_transport(conf, 'fake://')",
    'oslo_messaging.notify.notifier.Notifier':
        "om.Notifier(om.get_notification_transport(conf, 'fake://'))",
    'oslo_messaging._drivers.impl_fake.FakeDriver':
        "om.get_rpc_transport(conf, 'fake://')._driver",
    'oslo_messaging._drivers.base.PollStyleListenerAdapter':
        "om.get_rpc_transport(conf, 'fake://')._driver.listen("
        "om.Target(topic='survey', server='s'), 1, None)",
}


# Defines resolve_path(dotted name) in a script: the longest importable
# module, then attributes. Run in the in-place venv and in oslo's.
RESOLVE_PATH = """
def resolve_path(name):
    parts = name.split('.')
    for cut in range(len(parts), 0, -1):
        try:
            found = importlib.import_module('.'.join(parts[:cut]))
            break
        except ImportError:
            continue
    for part in parts[cut:]:
        found = getattr(found, part)
    return found
"""


def _resolve_path_code() -> str:
    """RESOLVE_PATH indented to sit in a script's body (run_python dedents)."""
    return textwrap.indent(RESOLVE_PATH, ' ' * 8).strip()


def surveyed_names() -> list[str]:
    with SURVEY.open(newline='') as survey:
        return sorted({row['name'] for row in csv.DictReader(survey)})


def test_the_survey_covers_the_services_the_issue_names():
    with SURVEY.open(newline='') as survey:
        rows = list(csv.DictReader(survey))
    projects = {row['project'] for row in rows}
    assert {'nova', 'cinder', 'neutron', 'heat', 'ironic', 'ceilometer', 'watcher',
            'barbican', 'designate', 'neutron-lib'} <= projects
    assert {row['kind'] for row in rows} == {'service', 'test'}
    assert all(row['name'].startswith('oslo_messaging') for row in rows)


def test_every_surveyed_name_resolves_under_oslo_messaging(inplace_python):
    names = [name for name in surveyed_names()
             if name not in NOT_HONOURED and name not in ABSENT_IN_OSLO]
    missing = run_python(inplace_python, '''
        import importlib, json
        from oslo_config import cfg
        import oslo_messaging as om
        conf = cfg.ConfigOpts()
        conf([])
        INSTANCES = %r
        %s

        def resolve(name):
            owner, _, attribute = name.rpartition('.')
            if owner in INSTANCES and not hasattr(resolve_path(owner), attribute):
                instance = eval(INSTANCES[owner], {'om': om, 'conf': conf})
                return getattr(instance, attribute)
            return resolve_path(name)

        missing = {}
        for name in %r:
            try:
                resolve(name)
            except Exception as ex:
                missing[name] = '%%s: %%s' %% (type(ex).__name__, ex)
        print(json.dumps(missing))
        ''' % (INSTANCES, _resolve_path_code(), names))
    assert missing == {}


def test_names_not_honoured_are_listed_in_the_migration_guide():
    guide = (Path(__file__).resolve().parents[2] / 'doc' / 'source'
             / 'migrating.rst').read_text()
    for name in NOT_HONOURED:
        assert name in guide, name


def test_every_surveyed_name_oslo_has_is_there_in_oslo(oslo_python):
    # The survey's names are oslo.messaging 18.3.1's (bar the absent ones).
    names = [name for name in surveyed_names()
             if name not in NOT_HONOURED and name not in ABSENT_IN_OSLO
             and not any(name.startswith(owner + '.') for owner in INSTANCES)]
    missing = run_python(oslo_python, '''
        import importlib, json
        %s
        missing = []
        for name in %r:
            try:
                resolve_path(name)
            except AttributeError:
                missing.append(name)
        print(json.dumps(missing))
        ''' % (_resolve_path_code(), names))
    assert missing == []


# Each use below is written the way the service writes it.

def test_nova_and_heat_reset_the_fake_exchanges_and_queued_messages_are_gone(inplace_python):
    checks = run_python(inplace_python, '''
        import json, threading
        from oslo_config import cfg
        import oslo_messaging as messaging
        conf = cfg.ConfigOpts()
        conf([])
        transport = messaging.get_rpc_transport(conf, 'fake://')
        client = messaging.get_rpc_client(transport, messaging.Target(topic='reset'))
        seen = []
        got = threading.Event()

        class Endpoint:
            def note(self, ctxt, n):
                seen.append(n)
                got.set()

        def served(n):
            server = messaging.get_rpc_server(
                transport, messaging.Target(topic='reset', server='s'), [Endpoint()])
            server.start()
            client.cast({}, 'note', n=n)
            got.wait(5)
            server.stop()
            server.wait()
            got.clear()

        client.cast({}, 'note', n='queued before the nova reset')
        # nova's RPCFixture cleanup
        messaging._drivers.impl_fake.FakeExchangeManager._exchanges = {}
        served('after the nova reset')
        client.cast({}, 'note', n='queued before the heat reset')
        # heat's heat.common.messaging, for fake:// transports
        transport._driver._exchange_manager._exchanges = {}
        served('after the heat reset')
        print(json.dumps(seen))
        ''')
    assert checks == ['after the nova reset', 'after the heat reset']


def test_nova_finds_a_server_left_running_through_the_patched_adapter(inplace_python):
    checks = run_python(inplace_python, '''
        import json
        from unittest import mock
        from oslo_config import cfg
        import oslo_messaging as messaging
        conf = cfg.ConfigOpts()
        conf([])
        transport = messaging.get_rpc_transport(conf, 'fake://')
        started = []
        orig_start = messaging._drivers.base.PollStyleListenerAdapter.start

        def wrapped_start(_self, *args, **kwargs):
            started.append(_self)
            return orig_start(_self, *args, **kwargs)

        with mock.patch('oslo_messaging._drivers.base.PollStyleListenerAdapter.start',
                        wrapped_start):
            rpc = messaging.get_rpc_server(
                transport, messaging.Target(topic='leak', server='s'), [object()])
            rpc.start()
            listener = messaging.get_notification_listener(
                transport, [messaging.Target(topic='leaknotify')], [object()])
            listener.start()
        running = [adapter._started for adapter in started]
        rpc.stop()
        rpc.wait()
        listener.stop()
        listener.wait()
        print(json.dumps({'started': len(started), 'running': running,
                          'after stop': [adapter._started for adapter in started]}))
        ''')
    assert checks == {'started': 2, 'running': [True, True], 'after stop': [False, False]}


def test_ceilometer_lists_the_rabbit_options_as_oslo_has_them(inplace_python, oslo_python):
    code = '''
        import json
        from oslo_messaging._drivers import impl_rabbit
        from oslo_config import cfg
        conf = cfg.ConfigOpts()
        conf.register_opts(impl_rabbit.rabbit_opts, group='oslo_messaging_rabbit')
        print(json.dumps(sorted(opt.dest for opt in impl_rabbit.rabbit_opts)))
        '''
    ours, oslos = run_python(inplace_python, code), run_python(oslo_python, code)
    assert set(oslos) <= set(ours)


def test_heat_and_ironic_helpers_answer_as_oslos(inplace_python, oslo_python):
    code = '''
        import json, sys
        from oslo_messaging._drivers import common as rpc_common
        from oslo_messaging import _utils as messaging_utils
        try:
            raise KeyError('no such stack')
        except KeyError:
            exc_info = sys.exc_info()
        serialized = rpc_common.serialize_remote_exception(exc_info)
        remote = rpc_common.deserialize_remote_exception(serialized, ['heat.common.exception'])
        body = {'oslo.version': '2.0',
                'oslo.message': json.dumps({'event_type': 'stack.create.end'})}
        print(json.dumps({
            'rebuilt': [type(remote).__name__, type(remote).__mro__[1].__name__,
                        str(remote).splitlines()[0]],
            'fields': sorted(json.loads(serialized)),
            'message': rpc_common.deserialize_msg(body),
            'compatible': [messaging_utils.version_is_compatible(have, want)
                           for have, want in (('1.5', '1.3'), ('1.3', '1.5'),
                                              ('2.0', '1.0'), ('1.5.1', '1.5'))]}))
        '''
    assert run_python(inplace_python, code) == run_python(oslo_python, code)


def test_watchers_filter_subclass_overrides_the_hooks_as_with_oslo(inplace_python, oslo_python):
    code = '''
        import json, re
        import oslo_messaging as om

        class CallableRules(om.NotificationFilter):
            """Rules may be callables that say whether the value mismatches."""

            def _build_regex_dict(self, regex_list):
                if regex_list is None:
                    return {}
                return {key: value if callable(value) else re.compile(value)
                        for key, value in regex_list.items()}

            def _check_for_mismatch(self, data, regex):
                if isinstance(regex, dict):
                    return any(key not in data or self._check_for_mismatch(data[key], rule)
                               for key, rule in regex.items())
                if callable(regex) and not hasattr(regex, 'match'):
                    return regex(data)
                return regex is not None and (not isinstance(data, str)
                                              or not regex.match(data))

        rule = CallableRules(event_type='^compute', payload={'size': lambda v: v < 10})
        print(json.dumps([rule.match({}, 'p', event, {}, payload) for event, payload in (
            ('compute.update', {'size': 20}), ('compute.update', {'size': 5}),
            ('volume.update', {'size': 20}), ('compute.update', {}))]))
        '''
    assert run_python(inplace_python, code) == run_python(oslo_python, code)


def test_barbican_keystonemiddleware_cinder_and_neutron_lib_uses(inplace_python):
    checks = run_python(inplace_python, '''
        import json
        from unittest import mock
        from oslo_config import cfg
        import oslo_messaging
        conf = cfg.ConfigOpts()
        conf([])
        transport = oslo_messaging.get_rpc_transport(conf, 'fake://')
        # barbican's queue setup
        transport._require_driver_features(requeue=True)
        # keystonemiddleware patches the log and messaging notification drivers
        ntransport = oslo_messaging.get_notification_transport(conf, 'fake://')
        with mock.patch('oslo_messaging.notify._impl_log.LogDriver.notify') as log_notify:
            oslo_messaging.Notifier(ntransport, 'p', driver='log').info({}, 'e', {})
        with mock.patch('oslo_messaging.notify.messaging.MessagingDriver.notify') as mq_notify:
            oslo_messaging.Notifier(ntransport, 'p', driver='messagingv2').info({}, 'e', {})
        # cinder's and nova's fake notifiers read the notifier's serializer
        serializer = oslo_messaging.JsonPayloadSerializer()
        notifier = oslo_messaging.Notifier(ntransport, serializer=serializer)
        # neutron-lib drives the transport's _send
        with mock.patch.object(transport, '_send', return_value='sent') as send:
            client = oslo_messaging.get_rpc_client(transport, oslo_messaging.Target(topic='t'))
            answer = client.call({}, 'm')
        print(json.dumps({'log': log_notify.call_count, 'messaging': mq_notify.call_count,
                          'serializer': getattr(notifier, '_serializer', None) is serializer,
                          'send': [send.call_count, answer]}))
        ''')
    assert checks == {'log': 1, 'messaging': 1, 'serializer': True, 'send': [1, 'sent']}


@pytest.mark.parametrize('name', ['oslo_messaging.nonesuch', 'oslo_messaging.nonesuch.deeper',
                                  'oslo_messaging._drivers.nonesuch',
                                  'oslo_messaging.rpc.nonesuch'])
def test_a_name_the_finder_cannot_map_is_a_plain_module_not_found(inplace_python, name):
    error = run_python(inplace_python, '''
        import importlib, json
        try:
            importlib.import_module(%r)
        except ImportError as ex:
            print(json.dumps([type(ex).__name__, ex.name]))
        ''' % name)
    assert error[0] == 'ModuleNotFoundError'
    assert error[1].startswith('oslo_messaging')


def test_survey_rows_are_well_formed():
    with SURVEY.open(newline='') as survey:
        rows = list(csv.DictReader(survey))
    assert rows and set(rows[0]) == {'project', 'path', 'line', 'name', 'kind', 'usage',
                                     'code'}
    usages = {'import', 'call', 'subclass', 'patch', 'reset', 'register', 'isinstance',
              'read', 'other'}
    assert {row['usage'] for row in rows} <= usages
    json.dumps(rows)
