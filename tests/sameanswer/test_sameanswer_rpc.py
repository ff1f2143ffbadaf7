"""The RPC client and dispatcher answer as oslo.messaging 18.3.1's do."""
from textwrap import dedent

# Log records of a snippet, as (logger, level) pairs: oslo gives some of its
# warnings through logging, not the warnings module.
LOG_CAPTURE = """
import logging
class Records(logging.Handler):
    def __init__(self):
        super().__init__()
        self.seen = []
    def emit(self, record):
        self.seen.append(record.levelname + ' ' + record.getMessage())
records = Records()
logging.getLogger().addHandler(records)
logging.getLogger().setLevel(logging.DEBUG)
def logged(fn, *args, **kwargs):
    del records.seen[:]
    outcome(fn, *args, **kwargs)
    return [line for line in records.seen if line.startswith('WARNING')]
"""

SETUP = LOG_CAPTURE + """
conf = cfg.ConfigOpts()
transport = om.get_rpc_transport(conf, 'fake:')
target = om.Target(topic='sa-topic')
"""


def test_get_rpc_client_takes_client_cls_and_requests_go_through_prepare(same_answer):
    same_answer(SETUP + dedent("""
        prepared = []
        class BackingOff(om.RPCClient):
            def prepare(self, *args, **kwargs):
                prepared.append(kwargs)
                return super().prepare(*args, **kwargs)
        client = om.get_rpc_client(transport, target, client_cls=BackingOff, timeout=1)
        observe('type', type(client).__name__)
        outcome(client.cast, {}, 'nothing')
        outcome(client.call, {}, 'nothing')
        observe('can_send', client.can_send_version('1.0'))
        observe('prepared', [sorted(k) for k in prepared])
    """))


def test_constructing_rpc_client_directly_warns_through_logging(same_answer):
    same_answer(SETUP + dedent("""
        observe('direct', logged(om.RPCClient, transport, target))
        observe('factory', logged(om.get_rpc_client, transport, target))
        ntransport = om.get_notification_transport(conf, 'fake:')
        observe('notification transport', logged(om.get_rpc_client, ntransport, target))
        observe('direct warnings', warned(om.RPCClient, transport, target))
    """))


def test_version_cap_without_a_version(same_answer):
    same_answer(SETUP + dedent("""
        capped = om.get_rpc_client(transport, target, version_cap='1.5')
        observe('cast', outcome(capped.cast, {}, 'm'))
        observe('call', outcome(capped.call, {}, 'm'))
        observe('can_send none', capped.can_send_version())
        observe('can_send 1.2', capped.can_send_version('1.2'))
        observe('can_send 1.6', capped.can_send_version('1.6'))
        observe('can_send 2.0', capped.can_send_version('2.0'))
        observe('can_send explicit None', capped.can_send_version(None))
        uncapped = om.get_rpc_client(transport, target)
        observe('uncapped none', uncapped.can_send_version())
        observe('uncapped 9.9', uncapped.can_send_version('9.9'))
        versioned = om.get_rpc_client(transport, target(version='1.7'), version_cap='1.5')
        observe('versioned', versioned.can_send_version())
        observe('versioned cast', outcome(versioned.cast, {}, 'm'))
        observe('prepared', versioned.prepare(version='1.1').can_send_version())
    """))


def test_prepare_refuses_a_version_without_a_minor(same_answer):
    same_answer(SETUP + dedent("""
        client = om.get_rpc_client(transport, target)
        for version in ('5', '5.0', '5.0.1', 'a.b', None):
            result = outcome(client.prepare, version=version)
            observe(repr(version), result.get('raised', 'ok'))
            observe(repr(version) + ' message', result.get('message'))
    """))


def test_rpc_dispatcher_built_directly_honours_rpc_ping_enabled(same_answer):
    same_answer("""
        class Endpoint:
            def echo(self, ctxt, value):
                return value
        om.RPCDispatcher([], None)  # registers the option on the global CONF
        cfg.CONF.set_override('rpc_ping_enabled', True)
        endpoints = [Endpoint()]
        dispatcher = om.RPCDispatcher(endpoints, None)
        observe('same list', dispatcher.endpoints is endpoints)
        observe('endpoints', [type(e).__name__ for e in dispatcher.endpoints])
    """)


def test_dispatch_rules(same_answer):
    same_answer("""
        class Incoming:
            client_timeout = None
            def __init__(self, message):
                self.message = message
                self.ctxt = {}
        class Plain:
            def echo(self, ctxt, value=None):
                return value
            def _private(self, ctxt):
                return 'private'
            @om.expose
            def shown(self, ctxt):
                return 'shown'
        class Flagged:
            def flagged(self, ctxt):
                return 'flagged'
        Flagged.flagged.exposed = False
        class Versioned:
            target = om.Target(version='2.3', namespace='ns', legacy_namespaces=['old'])
            def echo(self, ctxt, value=None):
                return ('v', value)
        def run(endpoints, message, policy=None):
            dispatcher = om.RPCDispatcher(endpoints, None, policy)
            return outcome(dispatcher.dispatch, Incoming(message))
        observe('plain', run([Plain()], {'method': 'echo', 'args': {'value': 1}}))
        observe('private', run([Plain()], {'method': '_private', 'args': {}}))
        observe('legacy private', run([Plain()], {'method': '_private', 'args': {}},
                                      om.LegacyRPCAccessPolicy))
        observe('explicit unexposed', run([Plain()], {'method': 'echo', 'args': {}},
                                          om.ExplicitRPCAccessPolicy))
        observe('explicit exposed', run([Plain()], {'method': 'shown', 'args': {}},
                                        om.ExplicitRPCAccessPolicy))
        observe('explicit flagged False', run([Flagged()], {'method': 'flagged', 'args': {}},
                                              om.ExplicitRPCAccessPolicy))
        observe('explicit missing', run([Plain()], {'method': 'nope', 'args': {}},
                                        om.ExplicitRPCAccessPolicy))
        observe('version 2.0 on unversioned', run([Plain()], {'method': 'echo', 'version': '2.0'}))
        observe('version None', run([Plain()], {'method': 'echo', 'version': None}))
        observe('ns', run([Versioned()], {'method': 'echo', 'namespace': 'ns', 'version': '2.1'}))
        observe('legacy ns', run([Versioned()], {'method': 'echo', 'namespace': 'old',
                                                 'version': '2.3'}))
        observe('too new', run([Versioned()], {'method': 'echo', 'namespace': 'ns',
                                               'version': '2.4'}))
        observe('bad policy', outcome(om.RPCDispatcher, [Plain()], None, object))
        class BadTarget:
            target = 'x'
        observe('bad target', outcome(om.RPCDispatcher, [BadTarget()], None).get('raised'))
    """)


def test_remote_error_attributes_and_text(same_answer):
    same_answer("""
        error = om.RemoteError('ValueError', 'bad value', ['line 1\\n', 'line 2\\n'])
        observe('attrs', [error.exc_type, error.value, error.traceback])
        observe('str', str(error))
        observe('args', list(error.args))
        empty = om.RemoteError()
        observe('empty', [str(empty), empty.exc_type, empty.value, empty.traceback])
    """)


def test_target_fields_copies_and_equality(same_answer):
    same_answer("""
        t = om.Target(exchange='e', topic='t', namespace='ns', version='1.2', server='s',
                      fanout=False, legacy_namespaces=['old'])
        observe('vars', sorted(vars(t)))
        observe('accepted', t.accepted_namespaces)
        observe('copy accepted', t(namespace='b').accepted_namespaces)
        observe('copy equal', t() == t)
        observe('repr', repr(t))
        observe('accessible', outcome(om.Target, accessible=False).get('raised'))
        observe('hash is identity', hash(t) == id(t))
    """)
