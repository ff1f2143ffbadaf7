"""The RPC and notification endpoints both libraries serve in interop tests.

The oslo.messaging peer builds them with ``oslo_messaging`` and the tests with
``messaging``: the same code runs on both sides, so a difference a test sees
comes from the libraries, not from the endpoints. Each invocation is reported
through ``emit`` as a JSON-able dict; that is how a test learns that a cast or
a notification arrived.
"""
from __future__ import annotations

import datetime
import threading
import time

from peer_exceptions import ExpectedPeerError, PeerError

NAMESPACE = 'interop_ns'
NAMESPACE_VERSION = '1.3'
PRIORITIES = ('audit', 'debug', 'info', 'warn', 'error', 'critical', 'sample')
# Put into payloads to see how each notifier driver encodes a non-JSON value.
SAMPLE_DATETIME = datetime.datetime(2024, 1, 2, 3, 4, 5)


class Gates:
    """Named events that hold an RPC method until the test opens them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: dict[str, threading.Event] = {}

    def get(self, name: str) -> threading.Event:
        with self._lock:
            return self._events.setdefault(name, threading.Event())

    def open(self, name: str) -> None:
        self.get(name).set()


def rpc_endpoints(om, emit, server: str, gates: Gates) -> list:
    """The endpoints of one RPC server named ``server``, built with library ``om``."""

    def report(method, ctxt, args):
        emit({'event': 'invoked', 'server': server, 'method': method,
              'args': args, 'context': ctxt})

    class Endpoint:
        """Default namespace, version 1.0."""

        def echo(self, ctxt, **kwargs):
            report('echo', ctxt, kwargs)
            return {'server': server, 'args': kwargs, 'context': ctxt}

        def give(self, ctxt, value):
            return value

        def fail_builtin(self, ctxt, message):
            raise ValueError(message, 42)

        def fail_custom(self, ctxt, message):
            raise PeerError(message, 7, reason='custom')

        @om.expected_exceptions(ExpectedPeerError)
        def fail_expected(self, ctxt, message):
            raise ExpectedPeerError(message, 9)

        def slow(self, ctxt, seconds):
            report('slow', ctxt, {'seconds': seconds})
            time.sleep(seconds)  # the long-running work call monitoring must cover
            return {'server': server, 'slept': seconds,
                    'client_timeout': ctxt.get('client_timeout')}

        def hold(self, ctxt, gate, limit):
            report('hold', ctxt, {'gate': gate})
            return {'server': server, 'released': gates.get(gate).wait(limit)}

    class NamespacedEndpoint:
        target = om.Target(namespace=NAMESPACE, version=NAMESPACE_VERSION)

        def versioned_echo(self, ctxt, **kwargs):
            return {'server': server, 'namespace': NAMESPACE,
                    'version': NAMESPACE_VERSION, 'args': kwargs}

    return [Endpoint(), NamespacedEndpoint()]


def notification_endpoint(om, emit, listener: str, spec: dict):
    """A notification endpoint built from ``spec``.

    ``spec``: ``name``, ``priorities`` (the methods it defines, hence what it
    subscribes to) and optionally ``filter`` (NotificationFilter keyword
    arguments). A payload with ``requeue_once: <marker>`` is answered with
    REQUEUE the first time this endpoint sees the marker.
    """
    requeued: set = set()
    lock = threading.Lock()

    def first_sight(marker) -> bool:
        with lock:
            new = marker not in requeued
            requeued.add(marker)
            return new

    def method(priority):
        def handle(self, ctxt, publisher_id, event_type, payload, metadata):
            marker = payload.get('requeue_once') if isinstance(payload, dict) else None
            requeue = marker is not None and first_sight(marker)
            emit({'event': 'notification', 'library': om.__name__, 'listener': listener,
                  'endpoint': spec['name'], 'priority': priority, 'ctxt': ctxt,
                  'publisher_id': publisher_id, 'event_type': event_type,
                  'payload': payload, 'metadata': metadata,
                  'payload_types': ({k: type(v).__name__ for k, v in payload.items()}
                                    if isinstance(payload, dict) else None),
                  'result': 'requeue' if requeue else 'handled'})
            if requeue:
                return om.NotificationResult.REQUEUE
            return om.NotificationResult.HANDLED
        return handle

    attrs = {priority: method(priority) for priority in spec['priorities']}
    if spec.get('filter'):
        attrs['filter_rule'] = om.NotificationFilter(**spec['filter'])
    return type('Endpoint_%s' % spec['name'], (), attrs)()
