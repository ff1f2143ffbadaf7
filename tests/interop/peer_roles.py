"""The roles an interop participant plays, written once for both libraries.

Every role takes ``om`` (the library module: ``oslo_messaging`` in the peer
process, ``messaging`` in the test process), ``emit`` (where events go) and a
JSON config, starts in ``__init__``, answers commands in ``handle`` with an
event dict and shuts down in ``stop``. oslo_peer.py runs a role behind a JSON
lines protocol; the tests run the same role in-process for our side.
"""
from __future__ import annotations

import importlib
import json
import threading

from oslo_config import cfg

from peer_endpoints import SAMPLE_DATETIME, Gates, notification_endpoint, rpc_endpoints

# (group, options) a library reads from the ConfigOpts it is given but
# registers only on the global cfg.CONF and leaves out of list_opts;
# oslo_peer.py fills it for oslo.messaging.
GLOBAL_ONLY_OPTS: list = []


class PeerContext:
    """A request context object.

    Notifiers drop a plain-dict context (WIRE.md 7.3), so a context that must
    reach a notification listener has to be an object with ``to_dict`` and
    ``redacted_copy``; like oslo.context, the redacted copy hides the token.
    """

    def __init__(self, values: dict) -> None:
        self._values = dict(values)

    def to_dict(self) -> dict:
        return dict(self._values)

    def redacted_copy(self) -> 'PeerContext':
        values = dict(self._values)
        if 'auth_token' in values:
            values['auth_token'] = None
        return PeerContext(values)


def make_conf(om, exchange: str) -> cfg.ConfigOpts:
    """A private ConfigOpts holding the library's options, ``control_exchange`` set.

    A private object rather than the global ``cfg.CONF`` keeps each role's
    settings apart (the test process hosts several roles). The options must
    be registered before the override, and a transport reads
    ``control_exchange`` when it is built, so they are registered here from
    the library's public ``opts.list_opts`` (oslo's ConfFixture would need the
    ``fixtures`` package, which oslo.messaging does not install).
    """
    conf = cfg.ConfigOpts()
    listed = importlib.import_module(om.__name__ + '.opts').list_opts()
    for group, opts in listed + GLOBAL_ONLY_OPTS:
        conf.register_opts(opts, group=None if group in (None, 'DEFAULT') else group)
    conf.set_override('control_exchange', exchange)
    return conf


def reply_queue(transport):
    """The name of the transport's reply queue, or None before the first call.

    Read only so that the test can delete the queue afterwards: ``messaging``
    exposes it as ``reply_queue_name``; oslo.messaging keeps it in the
    driver's private ``_reply_q``.
    """
    driver = transport._driver
    return getattr(driver, 'reply_queue_name', None) or getattr(driver, '_reply_q', None)


def _jsonable(value):
    """``value`` with anything JSON cannot carry replaced by its repr."""
    return json.loads(json.dumps(value, default=repr))


def describe_exception(ex: BaseException) -> dict:
    """What a test needs to know about an exception a call raised, as JSON."""
    kwargs = getattr(ex, 'kwargs', None)
    return {
        'class': type(ex).__name__,
        'module': type(ex).__module__,
        'mro': ['%s.%s' % (k.__module__, k.__name__) for k in type(ex).__mro__],
        'message': str(ex),
        'args': _jsonable(list(ex.args)),
        'kwargs': _jsonable(kwargs) if isinstance(kwargs, dict) else None,
        'exc_type': getattr(ex, 'exc_type', None),
        'value': getattr(ex, 'value', None),
    }


class Transports:
    """The transports a role opened: one per kind, URL, exchange and allowed modules."""

    def __init__(self, om) -> None:
        self._om = om
        self._open: dict = {}

    def get(self, kind: str, url: str, exchange: str, allowed=()):
        """An ``rpc`` or ``notification`` transport with ``control_exchange`` set."""
        key = (kind, url, exchange, tuple(allowed))
        if key not in self._open:
            build = (self._om.get_rpc_transport if kind == 'rpc'
                     else self._om.get_notification_transport)
            self._open[key] = build(make_conf(self._om, exchange), url,
                                    allowed_remote_exmods=list(allowed))
        return self._open[key]

    def reply_queues(self) -> list[str]:
        queues = [reply_queue(t) for (kind, *_), t in self._open.items() if kind == 'rpc']
        return [q for q in queues if q]

    def cleanup(self) -> None:
        for transport in self._open.values():
            transport.cleanup()


def start_each(emit, specs: list, start) -> list:
    """``start(spec)`` for every spec; a failure (the broker refused a
    declaration, say) becomes a ``start_failed`` event and the rest still
    start, so one bad case does not hide the others."""
    started = []
    for spec in specs:
        try:
            started.append(start(spec))
        except Exception as ex:
            emit({'event': 'start_failed', 'spec': spec,
                  'error': '%s: %s' % (type(ex).__name__, ex)})
    return started


def stop_all(servers: list) -> None:
    """Stop and wait for servers or listeners, all at once: oslo.messaging
    takes about a second to stop each, one after the other."""
    def stop(server):
        server.stop()
        server.wait()

    threads = [threading.Thread(target=stop, args=(server,)) for server in servers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


class RpcServers:
    """RPC servers: config ``servers`` = [{topic, server, optional url and exchange}]."""

    def __init__(self, om, emit, config: dict) -> None:
        self.gates = Gates()
        self._transports = Transports(om)

        def start(spec):
            exchange = spec.get('exchange', config['exchange'])
            transport = self._transports.get('rpc', spec.get('url', config['url']), exchange)
            target = om.Target(topic=spec['topic'], server=spec['server'], exchange=exchange)
            server = om.get_rpc_server(transport, target,
                                       rpc_endpoints(om, emit, spec['server'], self.gates),
                                       executor='threading')
            server.start()
            return server

        self._servers = start_each(emit, config['servers'], start)

    def handle(self, cmd: dict) -> dict:
        """``{"op": "release", "gate": name}`` lets held ``hold`` calls return."""
        if cmd['op'] != 'release':
            raise ValueError('unknown op %r' % cmd['op'])
        self.gates.open(cmd['gate'])
        return {'event': 'released', 'gate': cmd['gate']}

    def stop(self) -> None:
        stop_all(self._servers)
        self._transports.cleanup()


class RpcClient:
    """Sends calls and casts, on a transport per URL and ``allowed_remote_exmods``."""

    def __init__(self, om, emit, config: dict) -> None:
        self._om = om
        self._config = config
        self._transports = Transports(om)

    def handle(self, cmd: dict) -> dict:
        """Ops: ``call``/``cast`` (target, method, args, ctxt, timeout,
        call_monitor_timeout, allowed_remote_exmods, url) and ``reply_queues``."""
        if cmd['op'] == 'reply_queues':
            return {'event': 'reply_queues', 'queues': self._transports.reply_queues()}
        options = {k: cmd[k] for k in ('timeout', 'call_monitor_timeout')
                   if cmd.get(k) is not None}
        transport = self._transports.get('rpc', cmd.get('url', self._config['url']),
                                         self._config['exchange'],
                                         cmd.get('allowed_remote_exmods', ()))
        client = self._om.get_rpc_client(transport, self._om.Target(**cmd['target']),
                                         **options)
        send = {'call': client.call, 'cast': client.cast}[cmd['op']]
        try:
            result = send(cmd.get('ctxt', {}), cmd['method'], **cmd.get('args', {}))
        except Exception as ex:
            return {'event': 'exception', **describe_exception(ex)}
        return {'event': 'result', 'result': result}

    def stop(self) -> None:
        self._transports.cleanup()


class Notifiers:
    """Sends notifications; one Notifier per transport, driver, topic and publisher."""

    def __init__(self, om, emit, config: dict) -> None:
        self._om = om
        self._config = config
        self._transports = Transports(om)
        self._notifiers: dict = {}

    def handle(self, cmd: dict) -> dict:
        """``{"op": "notify", driver, topic, publisher_id, priority,
        event_type, payload, ctxt, ctxt_kind: "object"|"dict",
        datetime_keys: payload keys to set to SAMPLE_DATETIME,
        optional url and exchange}``."""
        if cmd['op'] != 'notify':
            raise ValueError('unknown op %r' % cmd['op'])
        transport = self._transports.get('notification', cmd.get('url', self._config['url']),
                                         cmd.get('exchange', self._config['exchange']))
        key = (id(transport), cmd['driver'], cmd['topic'], cmd['publisher_id'])
        if key not in self._notifiers:
            self._notifiers[key] = self._om.Notifier(
                transport, publisher_id=cmd['publisher_id'],
                driver=cmd['driver'], topics=[cmd['topic']])
        ctxt = cmd.get('ctxt')
        if ctxt is not None and cmd.get('ctxt_kind', 'object') == 'object':
            ctxt = PeerContext(ctxt)
        payload = cmd['payload']
        for name in cmd.get('datetime_keys', ()):
            payload[name] = SAMPLE_DATETIME
        getattr(self._notifiers[key], cmd['priority'])(ctxt, cmd['event_type'], payload)
        return {'event': 'notified'}

    def stop(self) -> None:
        self._transports.cleanup()


class Listeners:
    """Notification listeners: config ``listeners`` = [{name, topics, pool,
    allow_requeue, endpoints: [endpoint specs, see notification_endpoint],
    optional url and exchange}]."""

    def __init__(self, om, emit, config: dict) -> None:
        self._transports = Transports(om)

        def start(spec):
            exchange = spec.get('exchange', config['exchange'])
            transport = self._transports.get('notification', spec.get('url', config['url']),
                                             exchange)
            targets = [om.Target(topic=topic, exchange=exchange) for topic in spec['topics']]
            endpoints = [notification_endpoint(om, emit, spec['name'], endpoint)
                         for endpoint in spec['endpoints']]
            listener = om.get_notification_listener(
                transport, targets, endpoints, executor='threading',
                allow_requeue=spec.get('allow_requeue', False), pool=spec.get('pool'))
            listener.start()
            return listener

        self._listeners = start_each(emit, config['listeners'], start)

    def handle(self, cmd: dict) -> dict:
        raise ValueError('listeners take no commands, got %r' % cmd['op'])

    def stop(self) -> None:
        stop_all(self._listeners)
        self._transports.cleanup()


ROLES = {
    'rpc-server': RpcServers,
    'rpc-client': RpcClient,
    'notifier': Notifiers,
    'listener': Listeners,
}
