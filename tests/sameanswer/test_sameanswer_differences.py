"""The known differences of behaviour the migration guide lists, checked on
both sides: each snippet runs under ``messaging`` and under oslo.messaging
18.3.1, and the test asserts what each library answers, so that it fails if
either stops behaving as ``doc/source/migrating.rst`` says.

``tests/docs/test_migration_differences.py`` maps each bullet of the guide's
"Known differences in behaviour" to the tests that back it.
"""


def test_repr_masks_passwords_that_oslo_prints(same_answer):
    ours, oslo = same_answer.separately("""
        conf = cfg.ConfigOpts()
        url = om.TransportURL.parse(conf, 'rabbit://u:secret@h:5672,u2:pw2@h2/vh')
        observe('repr', repr(url))
        observe('host repr', repr(url.hosts[0]))
        observe('str', str(url))
        observe('to_string', outcome(lambda: url.to_string()))
    """)
    for side in (ours, oslo):
        assert side['str'] == 'rabbit://u:secret@h:5672,u2:pw2@h2/vh'
    assert 'secret' not in ours['repr'] and 'pw2' not in ours['repr']
    assert "password='****'" in ours['repr']
    host = "<TransportHost hostname='h', port=5672, username='u', password='%s'>"
    assert ours['host repr'] == host % '****'
    assert ours['to_string'] == {'returned': 'rabbit://u:****@h:5672,u2:****@h2/vh'}
    assert "password='secret'" in oslo['repr'] and "password='pw2'" in oslo['repr']
    assert oslo['host repr'] == host % 'secret'
    assert oslo['to_string']['raised'] == 'AttributeError'


BAD_PORTS = ('rabbit://h:abc/', 'rabbit://h:0/', 'rabbit://h:65536/', 'rabbit://h:-1/',
             'rabbit://[::1]:70000/')


def test_parse_refuses_a_port_oslo_lets_through(same_answer):
    ours, oslo = same_answer.separately("""
        conf = cfg.ConfigOpts()
        for text in %r + ('rabbit://h:1/', 'rabbit://h:65535/'):
            parsed = outcome(lambda: [h.port for h in om.TransportURL.parse(conf, text).hosts])
            observe(text, parsed.get('raised', parsed.get('returned')))
    """ % (BAD_PORTS,))
    assert ours == dict.fromkeys(BAD_PORTS, 'InvalidTransportURL') | {
        'rabbit://h:1/': [1], 'rabbit://h:65535/': [65535]}
    assert oslo == {'rabbit://h:abc/': 'ValueError', 'rabbit://h:0/': [0],
                    'rabbit://h:65536/': [65536], 'rabbit://h:-1/': [-1],
                    'rabbit://[::1]:70000/': [70000],
                    'rabbit://h:1/': [1], 'rabbit://h:65535/': [65535]}


def test_parse_returns_a_transport_url_given_to_it(same_answer):
    ours, oslo = same_answer.separately("""
        conf = cfg.ConfigOpts()
        url = om.TransportURL.parse(conf, 'rabbit://u:p@h/vh')
        again = outcome(lambda: om.TransportURL.parse(conf, url) is url)
        observe('again', again.get('raised', again.get('returned')))
    """)
    assert ours == {'again': True}
    assert oslo == {'again': 'InvalidTransportURL'}


def test_target_takes_no_accessible_argument(same_answer):
    seen = same_answer("""
        observe('accessible', outcome(om.Target, topic='t', accessible=False).get('raised'))
        observe('parameter', 'accessible' in __import__('inspect').signature(om.Target).parameters)
    """)
    assert seen == {'accessible': 'TypeError', 'parameter': False}


CONF_FIXTURE = """
import importlib, logging
conffixture = importlib.import_module(om.__name__ + '.conffixture')
logged = []
class Records(logging.Handler):
    def emit(self, record):
        logged.append((record.levelname, record.name, record.getMessage()))
logging.getLogger().addHandler(Records())
conf = cfg.ConfigOpts()
fixture = conffixture.ConfFixture(conf)
fixture.setUp()
observe('methods replaced', ['set_override' in vars(conf), 'clear_override' in vars(conf)])
group = conf.oslo_messaging_notifications
for old, new, value in (('notification_driver', 'driver', ['log']),
                        ('notification_topics', 'topics', ['seen']),
                        ('notification_transport_url', 'transport_url', 'fake:/')):
    conf.set_override(old, value)
    observe('set ' + old, getattr(group, new))
    conf.clear_override(old)
    observe('cleared ' + old, getattr(group, new))
observe('warned about', [old for old in ('notification_driver', 'notification_topics',
                                         'notification_transport_url')
                         if any(level == 'WARNING' and old in text and 'deprecated' in text
                                for level, _name, text in logged)])
fixture.cleanUp()
# Options registered (the fixture built) but not set up: the ConfigOpts's
# own methods, with nothing in between.
bare = cfg.ConfigOpts()
conffixture.ConfFixture(bare)
set_old = outcome(bare.set_override, 'notification_driver', ['log'])
observe('without setUp', [set_old.get('raised'), bare.oslo_messaging_notifications.driver])
"""


def test_conf_fixture_leaves_set_override_alone_and_old_names_still_work(same_answer):
    ours, oslo = same_answer.separately(CONF_FIXTURE)
    mapped = {'set notification_driver': ['log'], 'cleared notification_driver': [],
              'set notification_topics': ['seen'],
              'cleared notification_topics': ['notifications'],
              'set notification_transport_url': 'fake:/',
              'cleared notification_transport_url': None}
    for side in (ours, oslo):
        assert {key: side[key] for key in mapped} == mapped
    # Ours: the methods are the ConfigOpts's; oslo.config maps the old names
    # (deprecated names of our options) and warns at each use, fixture or not.
    assert ours['methods replaced'] == [False, False]
    assert ours['warned about'] == ['notification_driver', 'notification_topics',
                                    'notification_transport_url']
    assert ours['without setUp'] == [None, ['log']]
    # oslo.messaging: its fixture's replacement methods map the names, quietly;
    # its options have no old names, so nothing else does.
    assert oslo['methods replaced'] == [True, True]
    assert oslo['warned about'] == []
    assert oslo['without setUp'] == ['NoSuchOptError', []]


RPC_PING = """
import importlib
cfg.CONF([])
conffixture = importlib.import_module(om.__name__ + '.conffixture')
def own_conf(ping):
    # A ConfigOpts of the server's own, not the global one.
    conf = cfg.ConfigOpts()
    conffixture.ConfFixture(conf)  # registers the library's options on it
    conf([])
    conf.set_override('rpc_ping_enabled', ping)
    return conf
class Endpoint:
    def echo(self, ctxt, value):
        return value
def ping(server_conf, topic):
    server = om.get_rpc_server(om.get_rpc_transport(server_conf, 'fake:'),
                               om.Target(topic=topic, server='s1'), [Endpoint()])
    server.start()
    try:
        # The fake driver's transports of one process share one broker.
        client = om.get_rpc_client(om.get_rpc_transport(cfg.CONF, 'fake:'),
                                   om.Target(topic=topic), timeout=10)
        answer = outcome(client.call, {}, 'oslo_rpc_server_ping')
        return answer.get('raised', answer.get('returned'))
    finally:
        server.stop()
        server.wait()
# NoSuchMethod is the server's answer: it dispatched, without the ping endpoint.
observe('set nowhere', ping(own_conf(False), 'ping-none'))
observe("set on the transport's conf", ping(own_conf(True), 'ping-own'))
cfg.CONF.set_override('rpc_ping_enabled', True)
observe('set on the global CONF', ping(own_conf(False), 'ping-global'))
"""


def test_rpc_ping_enabled_is_read_from_the_transports_conf_too(same_answer):
    ours, oslo = same_answer.separately(RPC_PING)
    for side in (ours, oslo):
        assert side['set nowhere'] == 'NoSuchMethod'
        assert side['set on the global CONF'] == 'pong'
    assert ours["set on the transport's conf"] == 'pong'
    assert oslo["set on the transport's conf"] == 'NoSuchMethod'


def test_publish_timeout_is_an_option_of_ours_only(same_answer):
    ours, oslo = same_answer.separately("""
        import importlib
        opts = importlib.import_module(om.__name__ + '.opts')
        observe('publish_timeout', {group or 'DEFAULT': opt.default
                                    for group, group_opts in opts.list_opts()
                                    for opt in group_opts if opt.name == 'publish_timeout'})
    """)
    assert ours == {'publish_timeout': {'oslo_messaging_rabbit': 60.0}}
    assert oslo == {'publish_timeout': {}}


NOTIFICATION_FILTER = """
rules = om.NotificationFilter(context={'project': '^p'}, payload={'state': '^active$'})
def match(context, payload):
    answer = outcome(rules.match, context, 'compute.h1', 'instance.update', {}, payload)
    return answer.get('raised', answer.get('returned'))
observe('matching', match({'project': 'p1'}, {'state': 'active'}))
observe('None payload', match({'project': 'p1'}, None))
observe('None context', match(None, {'state': 'active'}))
def nested(payload):
    answer = outcome(lambda: om.NotificationFilter(payload={'a': {'b': '^x$'}}).match(
        {}, 'compute.h1', 'instance.update', {}, payload))
    return answer.get('raised', answer.get('returned'))
observe('nested match', nested({'a': {'b': 'x'}}))
observe('nested mismatch', nested({'a': {'b': 'y'}}))
observe('nested rule, flat value', nested({'a': 'x'}))
"""


def test_notification_filter_nested_rules_and_none(same_answer):
    ours, oslo = same_answer.separately(NOTIFICATION_FILTER)
    assert ours == {'matching': True, 'None payload': False, 'None context': False,
                    'nested match': True, 'nested mismatch': False,
                    'nested rule, flat value': False}
    assert oslo == {'matching': True, 'None payload': 'TypeError', 'None context': 'TypeError',
                    'nested match': 'TypeError', 'nested mismatch': 'TypeError',
                    'nested rule, flat value': 'TypeError'}


UNSERVED_CAST = """
import logging, time, uuid
warnings = []
class Records(logging.Handler):
    def emit(self, record):
        if record.levelno >= logging.WARNING:
            warnings.append(record.getMessage())
logging.getLogger().addHandler(Records())
transport = om.get_rpc_transport(cfg.CONF, %r)
client = om.get_rpc_client(transport, om.Target(topic='unserved_' + uuid.uuid4().hex))
took = []
for _ in range(2):
    started = time.monotonic()
    client.cast({}, 'anything')
    took.append(time.monotonic() - started)
transport.cleanup()
observe('first cast waited', took[0] > 0.5)
observe('second cast waited', took[1] > 0.5)
observe('warned', [text.split(' on exchange')[0][:39] for text in warnings])
"""


def test_a_cast_no_server_queue_takes_is_published_again_for_a_while(same_answer):
    from tests.functional.conftest import BROKER_URL
    ours, oslo = same_answer.separately(UNSERVED_CAST % BROKER_URL)
    assert ours == {'first cast waited': True, 'second cast waited': False,
                    'warned': ['No server queue exists for routing key ']}
    assert oslo == {'first cast waited': False, 'second cast waited': False, 'warned': []}
