"""Hand-written notes for the migration table, keyed like its rows.

The table's status comes from comparing code with the oslo.messaging
snapshot; these notes only say why, or what to do instead. A key that no
longer names a row fails the docs tests, so a note cannot outlive its row.
"""
from __future__ import annotations

KAFKA = ('Kafka is not supported: only RabbitMQ (rabbit:// or kombu://) and '
         'fake://. Keep the service on oslo.messaging, or move its notifications '
         'to RabbitMQ with [oslo_messaging_notifications] transport_url = rabbit://...')

# Notes on a whole option group, for every option of it.
GROUP_NOTES = {
    'oslo_messaging_kafka': KAFKA,
}

NOTES = {
    'oslo.messaging.drivers: kafka': KAFKA,
    'oslo.messaging.executors: eventlet': (
        'our own executor, not futurist\'s GreenThreadPoolExecutor; needs the '
        'eventlet extra'),
    'oslo.messaging.executors: threading': (
        'our own executor, not futurist\'s ThreadPoolExecutor'),
    'oslo_messaging.transport.TransportURL': (
        'repr() masks the password (oslo.messaging shows it); str() gives the URL '
        'with its password, as oslo.messaging does'),
    'oslo_messaging.notify.filter.NotificationFilter': (
        'nested dict rules match; a None payload or context is no match instead '
        'of a TypeError'),
    'oslo_messaging.notify.messaging.MessagingDriver': (
        'here the class of the messagingv2 format; the messaging (1.0) driver is '
        'MessagingV1Driver. Drivers chosen by name in configuration are the same'),
    'console_scripts: oslo-messaging-send-notification': (
        'takes the payload as --payload, not as a positional argument; '
        '--topic takes one topic'),
}

# Notes that say what to do instead of something we do not provide; shown
# only while it is absent, so a row that becomes supported loses its note.
ABSENT_NOTES = {
    'oslo_messaging.opts.set_defaults': (
        'call conf.set_default(\'executor_thread_pool_size\', N) instead'),
    'oslo_messaging.exceptions.ConfigurationError': (
        'oslo.messaging 18.3.1 never raises it; an except clause naming it can go'),
    'oslo_messaging.rpc.dispatcher.PingEndpoint': (
        'rpc_ping_enabled = true answers oslo_rpc_server_ping as in oslo.messaging; '
        'the endpoint class is private here'),
    'oslo_messaging.dispatcher.DispatcherBase': (
        'the base of the dispatchers, not needed by services; RPCDispatcher and '
        'the notification dispatchers are provided'),
    'oslo_messaging.server.ordered': (
        'a helper of oslo.messaging\'s own server internals, not provided'),
}

# What migrating users ask for that oslo.messaging 18.3.1 no longer ships
# either, as (kind, key, what to do instead).
WITHDRAWN = [
    ('transport driver', 'AMQP 1.0 (amqp://)',
     'not in oslo.messaging 18.3.1 either: a transport_url of amqp:// fails with '
     'DriverLoadFailure in both libraries. Move the service to RabbitMQ '
     '(rabbit://), for RPC and notifications'),
]

# Entry points our distribution names differently (the in-place package
# provides oslo's names).
OUR_ENTRY_POINT_NAMES = {
    ('oslo.config.opts', 'oslo.messaging'): 'messaging',
    ('console_scripts', 'oslo-messaging-send-notification'): 'messaging-send-notification',
}


def note_for(key: str, found: bool = True) -> str:
    """The note of a row, or of its option group; empty when there is none.

    :param found: whether we provide the thing; the notes of
        ``ABSENT_NOTES`` are for things we do not.
    """
    if not found and key in ABSENT_NOTES:
        return ABSENT_NOTES[key]
    if key in NOTES:
        return NOTES[key]
    if key.startswith('['):
        return GROUP_NOTES.get(key[1:key.index(']')], '')
    return ''
