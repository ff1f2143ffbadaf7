"""The ``[oslo_messaging_rabbit]`` options, with oslo.messaging 18.x names,
types and defaults so existing configuration files keep working."""
from __future__ import annotations

import os
import socket
import sys

from oslo_config import cfg

GROUP = 'oslo_messaging_rabbit'

# The program's name: processname's default, and how connection names start.
PROCESS_NAME = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else 'python'

rabbit_opts = [
    # Connection pool.
    cfg.IntOpt('rpc_conn_pool_size', default=30, min=1,
               help='Most send connections a transport keeps open at once. '
                    'Raise it when many threads send concurrently and wait '
                    'for a free connection.'),
    cfg.IntOpt('conn_pool_min_size', default=2,
               help='Idle send connections kept open even past '
                    'conn_pool_ttl, so bursts do not have to reconnect.'),
    cfg.IntOpt('conn_pool_ttl', default=1200,
               help='Seconds an idle send connection above '
                    'conn_pool_min_size stays open before it is closed.'),
    # TLS.
    cfg.BoolOpt('ssl', default=False, deprecated_name='rabbit_use_ssl',
                help='Connect over TLS. The port stays 5672 unless the URL '
                     'gives one, so write e.g. ":5671" in the URL.'),
    cfg.StrOpt('ssl_version', default='',
               deprecated_name='kombu_ssl_version',
               help='TLS protocol version (e.g. TLSv1_2) when the broker '
                    'needs a specific one; empty lets Python choose.'),
    cfg.StrOpt('ssl_key_file', default='', deprecated_name='kombu_ssl_keyfile',
               help='Client private key file (PEM) for TLS client '
                    'authentication.'),
    cfg.StrOpt('ssl_cert_file', default='',
               deprecated_name='kombu_ssl_certfile',
               help='Client certificate file (PEM) for TLS client '
                    'authentication.'),
    cfg.StrOpt('ssl_ca_file', default='', deprecated_name='kombu_ssl_ca_certs',
               help='CA bundle (PEM) used to verify the broker certificate; '
                    'setting it makes verification mandatory.'),
    cfg.BoolOpt('ssl_enforce_hostname_verification', default=True,
                deprecated_for_removal=True,
                deprecated_reason='oslo.messaging deprecated it: verification '
                                  'is always enabled now',
                help='Accepted as oslo.messaging 18.3.1 accepts it, and ignored: '
                     'this driver verifies the broker certificate whenever '
                     'ssl_ca_file is set (see ssl_ca_file).'),
    cfg.BoolOpt('ssl_enforce_fips_mode', default=False,
                help='Refuse to start unless the Python ssl module runs in '
                     'FIPS mode. Only for deployments that require FIPS.'),
    # Reconnection.
    cfg.FloatOpt('kombu_reconnect_delay', default=1.0, min=0.0,
                 help='Seconds added to every reconnection wait, after a '
                      'connection failure.'),
    cfg.FloatOpt('kombu_reconnect_splay', default=0.0, min=0.0,
                 help='Up to this many random seconds added to each '
                      'reconnection wait, so that many clients do not '
                      'reconnect in lockstep.'),
    cfg.StrOpt('kombu_compression',
               help='Compress message bodies: "gzip" (zlib) or "bz2". Only '
                    'useful for large messages; every peer must support it.'),
    cfg.IntOpt('max_message_size', default=64 * 1024 * 1024, min=0,
               help='Largest message body, in bytes, a server, listener or '
                    'reply queue accepts, counted after decompression; a '
                    'larger one is logged and rejected unread, so that one '
                    'publisher cannot make every consumer build a huge '
                    'object in memory (nor unpack a compression bomb). '
                    '0 = unlimited. The default, 64 MiB, is far above any '
                    'real OpenStack RPC or notification and half of '
                    'RabbitMQ 3.x\'s own max_message_size (128 MiB), which '
                    'bounds only the compressed size. Not an oslo.messaging '
                    'option.'),
    cfg.IntOpt('kombu_missing_consumer_retry_timeout', default=60,
               deprecated_name='kombu_reconnect_timeout',
               help='Seconds an RPC server keeps retrying a reply whose '
                    'reply queue is missing (the caller went away) before '
                    'dropping it.'),
    cfg.FloatOpt('publish_timeout', default=60.0, min=0.1,
                 help='Seconds a cast, notification or reply waits for the '
                      'broker to take it (declarations and publisher '
                      'confirm) before it fails with a MessagingTimeout '
                      '(also a MessageDeliveryFailure). A call waits at most '
                      'its own timeout instead. Bounds the wait while '
                      'RabbitMQ blocks publishers during a memory or disk '
                      'alarm, which would otherwise hang them. Not an '
                      'oslo.messaging option.'),
    cfg.StrOpt('rabbit_frame_engine', default='lean',
               choices=(('lean', 'this library\'s own frame code'),
                        ('stock', 'py-amqp\'s and kombu\'s own code')),
               help='How AMQP frames are written and read. "lean" encodes '
                    'publishes, acks and rejects and reads deliveries and '
                    'publisher confirms with this library\'s own frame code, '
                    'at about half the client CPU per message of py-amqp\'s '
                    'generic path. "stock" leaves every frame to py-amqp\'s '
                    'and kombu\'s own code, e.g. to rule ours out while '
                    'investigating a problem; it behaves the same, but a '
                    'shared listening connection\'s I/O thread then reads '
                    'on for 10 ms after each burst, as over TLS. Not an '
                    'oslo.messaging option.'),
    cfg.StrOpt('kombu_failover_strategy', default='round-robin',
               choices=('round-robin', 'shuffle'),
               help='How the next broker is picked from the URL\'s hosts '
                    'after a connection failure.'),
    cfg.StrOpt('rabbit_login_method', default='AMQPLAIN',
               choices=('PLAIN', 'AMQPLAIN', 'EXTERNAL', 'RABBIT-CR-DEMO'),
               help='The SASL mechanism used to log in to RabbitMQ.'),
    cfg.FloatOpt('rabbit_retry_interval', default=1.0,
                 help='Seconds to wait before the first reconnection '
                      'attempt.'),
    cfg.FloatOpt('rabbit_retry_backoff', default=2.0,
                 help='Seconds added to the reconnection wait after each '
                      'failed attempt.'),
    cfg.FloatOpt('rabbit_interval_max', default=30.0,
                 help='Longest wait, in seconds, between reconnection '
                      'attempts.'),
    # Queue declarations (must match every peer on the vhost).
    cfg.BoolOpt('rabbit_ha_queues', default=False,
                help='Declare queues with x-ha-policy=all (classic mirrored '
                     'queues; RabbitMQ >= 3.0 needs a policy instead). '
                     'Cannot be combined with rabbit_quorum_queue.'),
    cfg.BoolOpt('rabbit_quorum_queue', default=False,
                help='Declare topic, server and notification queues as '
                     'durable quorum queues (replicated). Every peer on '
                     'the vhost must agree.'),
    cfg.BoolOpt('rabbit_transient_quorum_queue', default=False,
                help='Declare reply and fanout queues as quorum queues too.'),
    cfg.IntOpt('rabbit_quorum_delivery_limit', default=0,
               help='x-delivery-limit of quorum queues: redeliveries before '
                    'a message is dropped or dead-lettered; 0 = unlimited.'),
    cfg.IntOpt('rabbit_quorum_max_memory_length', default=0,
               help='x-max-in-memory-length of quorum queues; 0 = unset.'),
    cfg.IntOpt('rabbit_quorum_max_memory_bytes', default=0,
               help='x-max-in-memory-bytes of quorum queues; 0 = unset.'),
    cfg.IntOpt('rabbit_transient_queues_ttl', default=1800, min=0,
               help='Seconds an unused reply or fanout queue lives before '
                    'the broker deletes it (x-expires); 0 = forever.'),
    cfg.BoolOpt('rabbit_stream_fanout', default=False,
                help='Use one stream queue (x-queue-type: stream) per fanout '
                     'topic, read by every server of the topic from its own '
                     'offset, instead of a queue per server. The stream keeps '
                     'its messages for rabbit_transient_queues_ttl seconds '
                     '(x-max-age). Needs RabbitMQ >= 3.9, '
                     'rabbit_transient_quorum_queue=true and '
                     'rabbit_qos_prefetch_count > 0.'),
    cfg.IntOpt('rabbit_qos_prefetch_count', default=0,
               help='Unacknowledged messages the broker may push to each '
                    'consumer (basic.qos); 0 = unlimited.'),
    cfg.IntOpt('heartbeat_timeout_threshold', default=60,
               help='AMQP heartbeat interval in seconds: the peer is '
                    'declared dead after twice this without traffic; '
                    '0 disables heartbeats.'),
    cfg.IntOpt('heartbeat_rate', default=3,
               help='How many heartbeats are sent per '
                    'heartbeat_timeout_threshold interval.'),
    cfg.BoolOpt('direct_mandatory_flag', default=True,
                deprecated_for_removal=True,
                help='Publish replies as mandatory so that a missing reply '
                     'queue is detected instead of silently dropping them.'),
    cfg.BoolOpt('enable_cancel_on_failover', default=False,
                help='Ask the broker to cancel consumers of a mirrored '
                     'queue on failover (x-cancel-on-ha-failover), so they '
                     'reconnect to the new leader.'),
    cfg.BoolOpt('amqp_durable_queues', default=False,
                help='Declare the topic exchange and topic-side queues '
                     'durable, so they survive a broker restart.'),
    cfg.BoolOpt('amqp_auto_delete', default=False,
                help='Declare the topic exchange and topic-side queues '
                     'auto-delete, removed when their last consumer goes.'),
    cfg.BoolOpt('use_queue_manager', default=False,
                help='Stable reply and fanout queue names built from '
                     'hostname, processname and a counter shared by the '
                     'processes of the host (in /dev/shm, under a lock in '
                     '[oslo_concurrency] lock_path or $OSLO_LOCK_PATH), so '
                     'that a restarted service takes up its queues again.'),
    cfg.StrOpt('hostname', sample_default='<hostname>',
               default=socket.gethostname(),
               help='Hostname used by the queue manager.'),
    cfg.StrOpt('processname', sample_default='<processname>',
               default=PROCESS_NAME,
               help='Process name used by the queue manager.'),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    """Register the rabbit options on ``conf`` (idempotent)."""
    conf.register_opts(rabbit_opts, group=GROUP)
