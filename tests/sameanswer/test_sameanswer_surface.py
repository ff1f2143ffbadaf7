"""The public RPC, server, transport, target, exception and serializer surface
is oslo.messaging 18.3.1's: names, signatures, bases and exception messages.

Our extras (RequestContextSerializer, RPCTransport/NotificationTransport and
the factories at messaging.transport, TransportURL.to_string,
TransportHost.netloc) are allowed; every oslo name must be there and alike.
The notification names belong to the notification tests.
"""

SURFACE = """
import importlib
import inspect

def signature(fn):
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return None
    shown = []
    for p in params:
        if p.name == 'self':
            continue
        text = {p.VAR_POSITIONAL: '*', p.VAR_KEYWORD: '**'}.get(p.kind, '') + p.name
        if p.default is not p.empty:
            default = p.default
            text += '=' + ('<marker>' if type(default) is object else
                           '<%s>' % default.__name__ if isinstance(default, type)
                           else repr(default))
        shown.append(text)
    return shown

MODULES = {
    '': None, 'rpc': None, 'rpc.client': None, 'rpc.server': None, 'rpc.dispatcher': None,
    'rpc.transport': None, 'server': None, 'target': ['Target'], 'exceptions': None,
    'serializer': None, 'transport': None, 'dispatcher': None,
}
METHODS = {
    'RPCClient': ['prepare', 'call', 'cast', 'can_send_version'],
    'MessageHandlingServer': ['start', 'stop', 'wait', 'reset'],
    'RPCDispatcher': ['dispatch'], 'TransportURL': ['parse'], 'Transport': ['cleanup'],
    'Serializer': ['serialize_entity', 'deserialize_entity', 'serialize_context',
                   'deserialize_context'],
    'NoOpSerializer': ['serialize_entity', 'deserialize_entity', 'serialize_context',
                       'deserialize_context'],
    'JsonPayloadSerializer': ['serialize_entity'],
    'RPCAccessPolicyBase': ['is_allowed'],
}
NOTIFY = {'Notifier', 'NotificationFilter', 'NotificationResult', 'LoggingNotificationHandler',
          'LoggingErrorNotificationHandler', 'PublishErrorsHandler', 'get_notification_listener',
          'get_batch_notification_listener', 'get_notification_transport'}
for name, listed in MODULES.items():
    module = importlib.import_module(om.__name__ + ('.' + name if name else ''))
    names = listed or getattr(module, '__all__', None) or [
        n for n in dir(module) if not n.startswith('_')
        and not inspect.ismodule(getattr(module, n))]
    observe('module ' + name, sorted(names) if listed is None else None)
    for attr in sorted(set(names) - NOTIFY):
        obj = getattr(module, attr)
        key = '%s.%s' % (name, attr)
        if inspect.isclass(obj):
            observe(key + ' bases', [c.__name__ for c in obj.__mro__
                                     if c.__name__ not in ('_OrderedTaskRunner',)])
            observe(key + ' init', signature(obj.__init__))
            for method in METHODS.get(attr, []) + [m for c in obj.__mro__
                                                   for m in METHODS.get(c.__name__, [])]:
                observe('%s.%s' % (key, method), signature(getattr(obj, method)))
        else:
            observe(key, signature(obj))
"""

# What the library's own modules answer when not in oslo's __all__ lists.
OURS_EXTRA = {
    'module transport': {'RPCTransport', 'NotificationTransport', 'get_rpc_transport',
                         'get_notification_transport'},
    'module serializer': {'RequestContextSerializer'},
    'module ': {'RequestContextSerializer', 'RPCTransport', 'NotificationTransport'},
}


def test_public_surface_matches(same_answer):
    oslo = same_answer.oslo.run(SURFACE)
    ours = same_answer.ours.run(SURFACE)
    differences = []
    for key in sorted(set(oslo) | set(ours)):
        mine, theirs = ours.get(key, '<absent>'), oslo.get(key, '<absent>')
        if key in OURS_EXTRA and isinstance(mine, list) and isinstance(theirs, list):
            mine = sorted(set(mine) - OURS_EXTRA[key])
        if theirs == '<absent>':
            continue  # an extra of ours
        if mine != theirs:
            differences.append('%s: ours %r, oslo %r' % (key, mine, theirs))
    assert not differences, '\n'.join(differences)


def test_exception_messages_and_attributes(same_answer):
    same_answer("""
        target = om.Target(topic='t', server='s')
        cases = {
            'InvalidTarget': lambda: om.InvalidTarget('bad', target),
            'ClientSendError': lambda: om.ClientSendError(target, ValueError('x')),
            'RPCVersionCapError': lambda: om.RPCVersionCapError('2.0', '1.5'),
            'RemoteError': lambda: om.RemoteError('E', 'v', 'tb'),
            'NoSuchMethod': lambda: om.NoSuchMethod('m'),
            'UnsupportedVersion': lambda: om.UnsupportedVersion('3.0', method='m'),
            'UnsupportedVersion no method': lambda: om.UnsupportedVersion('3.0'),
            'ExecutorLoadFailure': lambda: om.ExecutorLoadFailure('x', 'why'),
            'ServerListenError': lambda: om.ServerListenError(target, 'why'),
            'DriverLoadFailure': lambda: om.DriverLoadFailure('d', 'why'),
            'InvalidTransportURL': lambda: om.InvalidTransportURL('u', 'why'),
            'MessageUndeliverable': lambda: om.MessageUndeliverable('e', 'x', 'rk', 'm'),
            'TaskTimeout': lambda: om.server.TaskTimeout('slow'),
            'ConfigurationError': lambda: om.exceptions.ConfigurationError('c'),
        }
        for name, build in cases.items():
            error = build()
            observe(name, [str(error), repr(error.args),
                           sorted(k for k in vars(error) if not k.startswith('_'))])
        observe('options', vars(om.TransportOptions(at_least_once=True)))
        observe('options value', om.TransportOptions(at_least_once=True).at_least_once)
    """)


def test_json_payload_serializer_converts_as_oslo(same_answer):
    same_answer("""
        import datetime, decimal, uuid
        class Obj:
            def __init__(self):
                self.a = 1
                self.b = [1, 2]
        serializer = om.JsonPayloadSerializer()
        for name, value in [('datetime', datetime.datetime(2020, 1, 2, 3, 4, 5, 6)),
                            ('set', {1}), ('tuple', (1, 2)), ('object', Obj()),
                            ('uuid', uuid.UUID(int=5)), ('decimal', decimal.Decimal('1.5')),
                            ('nested', {'x': [datetime.date(2020, 1, 1)]})]:
            observe(name, outcome(serializer.serialize_entity, {}, value))
    """)


def test_notification_transport_used_for_rpc_warns_through_logging(same_answer):
    same_answer("""
        import logging
        seen = []
        class Records(logging.Handler):
            def emit(self, record):
                if record.levelno >= logging.WARNING:
                    seen.append(record.getMessage())
        logging.getLogger().addHandler(Records())
        conf = cfg.ConfigOpts()
        transport = om.get_notification_transport(conf, 'fake:')
        om.get_rpc_server(transport, om.Target(topic='t', server='s'), [])
        observe('server', seen[:])
        del seen[:]
        om.get_rpc_client(transport, om.Target(topic='t'))
        observe('client', seen[:])
    """)
