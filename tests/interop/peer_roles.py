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


class RpcServers:
    """RPC servers: config ``servers`` = [{topic, server, optional url and exchange}].

    Servers with the same URL share a transport. A server that cannot start
    (the broker refused a declaration, say) is reported as a ``start_failed``
    event and the others still start, so one bad case does not hide the rest.
    """

    def __init__(self, om, emit, config: dict) -> None:
        conf = make_conf(om, config['exchange'])
        self.gates = Gates()
        self._transports: dict = {}
        self._servers = []
        for spec in config['servers']:
            url = spec.get('url', config['url'])
            if url not in self._transports:
                self._transports[url] = om.get_rpc_transport(conf, url)
            target = om.Target(topic=spec['topic'], server=spec['server'],
                               exchange=spec.get('exchange', config['exchange']))
            endpoints = rpc_endpoints(om, emit, spec['server'], self.gates)
            try:
                server = om.get_rpc_server(self._transports[url], target, endpoints,
                                           executor='threading')
                server.start()
            except Exception as ex:
                emit({'event': 'start_failed', 'topic': spec['topic'],
                      'server': spec['server'], 'error': '%s: %s' % (type(ex).__name__, ex)})
                continue
            self._servers.append(server)

    def handle(self, cmd: dict) -> dict:
        """``{"op": "release", "gate": name}`` lets held ``hold`` calls return."""
        if cmd['op'] != 'release':
            raise ValueError('unknown op %r' % cmd['op'])
        self.gates.open(cmd['gate'])
        return {'event': 'released', 'gate': cmd['gate']}

    def stop(self) -> None:
        for server in self._servers:
            server.stop()
        for server in self._servers:
            server.wait()
        for transport in self._transports.values():
            transport.cleanup()


class RpcClient:
    """Sends calls and casts; one transport per URL and ``allowed_remote_exmods``."""

    def __init__(self, om, emit, config: dict) -> None:
        self._om = om
        self._conf = make_conf(om, config['exchange'])
        self._url = config['url']
        self._transports: dict = {}

    def _transport(self, url, allowed):
        key = (url, tuple(allowed))
        if key not in self._transports:
            self._transports[key] = self._om.get_rpc_transport(
                self._conf, url, allowed_remote_exmods=list(allowed))
        return self._transports[key]

    def handle(self, cmd: dict) -> dict:
        """Ops: ``call``/``cast`` (target, method, args, ctxt, timeout,
        call_monitor_timeout, allowed_remote_exmods, url) and ``reply_queues``."""
        if cmd['op'] == 'reply_queues':
            queues = [reply_queue(t) for t in self._transports.values()]
            return {'event': 'reply_queues', 'queues': [q for q in queues if q]}
        options = {k: cmd[k] for k in ('timeout', 'call_monitor_timeout')
                   if cmd.get(k) is not None}
        client = self._om.get_rpc_client(
            self._transport(cmd.get('url', self._url), cmd.get('allowed_remote_exmods', ())),
            self._om.Target(**cmd['target']), **options)
        send = {'call': client.call, 'cast': client.cast}[cmd['op']]
        try:
            result = send(cmd.get('ctxt', {}), cmd['method'], **cmd.get('args', {}))
        except Exception as ex:
            return {'event': 'exception', **describe_exception(ex)}
        return {'event': 'result', 'result': result}

    def stop(self) -> None:
        for transport in self._transports.values():
            transport.cleanup()


class Notifiers:
    """Sends notifications; one Notifier per (driver, topic, publisher_id)."""

    def __init__(self, om, emit, config: dict) -> None:
        self._om = om
        conf = make_conf(om, config['exchange'])
        self._transport = om.get_notification_transport(conf, config['url'])
        self._notifiers: dict = {}

    def handle(self, cmd: dict) -> dict:
        """``{"op": "notify", driver, topic, publisher_id, priority,
        event_type, payload, ctxt, ctxt_kind: "object"|"dict",
        datetime_keys: payload keys to set to SAMPLE_DATETIME}``."""
        if cmd['op'] != 'notify':
            raise ValueError('unknown op %r' % cmd['op'])
        key = (cmd['driver'], cmd['topic'], cmd['publisher_id'])
        if key not in self._notifiers:
            self._notifiers[key] = self._om.Notifier(
                self._transport, publisher_id=cmd['publisher_id'],
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
        self._transport.cleanup()


class Listeners:
    """Notification listeners: config ``listeners`` = [{name, topics, pool,
    allow_requeue, endpoints: [endpoint specs, see notification_endpoint]}]."""

    def __init__(self, om, emit, config: dict) -> None:
        conf = make_conf(om, config['exchange'])
        self._transport = om.get_notification_transport(conf, config['url'])
        self._listeners = []
        for spec in config['listeners']:
            targets = [om.Target(topic=topic, exchange=config['exchange'])
                       for topic in spec['topics']]
            endpoints = [notification_endpoint(om, emit, spec['name'], endpoint)
                         for endpoint in spec['endpoints']]
            listener = om.get_notification_listener(
                self._transport, targets, endpoints, executor='threading',
                allow_requeue=spec.get('allow_requeue', False), pool=spec.get('pool'))
            listener.start()
            self._listeners.append(listener)

    def handle(self, cmd: dict) -> dict:
        raise ValueError('listeners take no commands, got %r' % cmd['op'])

    def stop(self) -> None:
        for listener in self._listeners:
            listener.stop()
        for listener in self._listeners:
            listener.wait()
        self._transport.cleanup()


ROLES = {
    'rpc-server': RpcServers,
    'rpc-client': RpcClient,
    'notifier': Notifiers,
    'listener': Listeners,
}
