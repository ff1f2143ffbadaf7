"""The options the library's core registers, grouped where they are used.

Driver-specific options live with their driver
(``messaging.drivers.rabbit.options``); ``messaging.opts.list_opts`` gathers
them all for oslo-config-generator.
"""
from __future__ import annotations

from oslo_config import cfg

NOTIFICATIONS_GROUP = 'oslo_messaging_notifications'

transport_opts = [
    cfg.StrOpt('transport_url', default='rabbit://', secret=True,
               help='The network address and optional user credentials for '
                    'connecting to the messaging backend, in URL format: '
                    'driver://[user:pass@]host:port[,[userN:passN@]hostN:'
                    'portN]/virtual_host?query. Example: '
                    'rabbit://rabbitmq:password@127.0.0.1:5672//'),
    cfg.StrOpt('control_exchange', default='openstack',
               help='The default exchange under which topics are scoped. '
                    'All peers that talk to each other must agree on it; '
                    'a Target\'s own exchange overrides it.'),
]

client_opts = [
    cfg.IntOpt('rpc_response_timeout', default=60,
               help='Seconds to wait for a response from a call before '
                    'raising MessagingTimeout. Raise it for slow methods, '
                    'or set a timeout per client with prepare(timeout=...).'),
]

executor_opts = [
    cfg.IntOpt('executor_thread_pool_size', default=64,
               deprecated_name='rpc_thread_pool_size',
               help='Size of the executor thread (or green thread) pool '
                    'when the executor is threading or eventlet: the '
                    'number of messages a server handles at once.'),
]

dispatcher_opts = [
    cfg.BoolOpt('rpc_ping_enabled', default=False,
                help='Add an endpoint method oslo_rpc_server_ping that '
                     'answers "pong", so monitoring can check a server '
                     'is alive.'),
]

notifier_opts = [
    cfg.MultiStrOpt('driver', default=[],
                    deprecated_name='notification_driver',
                    deprecated_group='DEFAULT',
                    help='The driver(s) used to send notifications: '
                         'messaging, messagingv2, routing, log, test or '
                         'noop. Empty means notifications are not sent.'),
    cfg.StrOpt('transport_url', secret=True,
               deprecated_name='notification_transport_url',
               deprecated_group='DEFAULT',
               help='A URL for the notification transport; when unset, '
                    'the RPC transport_url is used.'),
    cfg.ListOpt('topics', default=['notifications'],
                deprecated_opts=[cfg.DeprecatedOpt('topics',
                                                   group='rpc_notifier2'),
                                 cfg.DeprecatedOpt('notification_topics',
                                                   group='DEFAULT')],
                help='AMQP topic(s) used for notifications; each '
                     'notification is sent once per topic.'),
    cfg.IntOpt('retry', default=-1,
               help='How often to retry sending a notification when the '
                    'connection fails: -1 retries forever, 0 never.'),
    cfg.StrOpt('routing_config', default='',
               deprecated_name='routing_notifier_config',
               deprecated_group='DEFAULT',
               help='The YAML file the routing notification driver reads: '
                    'which drivers receive which event types and '
                    'priorities (see etc/routing_notifier.yaml.sample).'),
]

DEFAULT_OPTS = transport_opts + client_opts + executor_opts + dispatcher_opts


def register_default_opts(conf: cfg.ConfigOpts) -> None:
    """Register the core's [DEFAULT] options on ``conf`` (idempotent)."""
    conf.register_opts(DEFAULT_OPTS)


def register_transport_opts(conf: cfg.ConfigOpts) -> None:
    """Register ``transport_url`` and ``control_exchange`` alone, as a
    TransportURL does in oslo (idempotent)."""
    conf.register_opts(transport_opts)


def register_notifier_opts(conf: cfg.ConfigOpts) -> None:
    """Register the [oslo_messaging_notifications] options (idempotent)."""
    conf.register_opts(notifier_opts, group=NOTIFICATIONS_GROUP)
