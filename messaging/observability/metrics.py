"""RPC metrics for the oslo.metrics daemon, named and labelled as oslo sends them.

Client side, for every call and cast (as oslo.messaging 18.3):
``rpc_client_invocation_start_total``, then either
``rpc_client_exception_total`` (with an ``exception`` label: the class
name) or ``rpc_client_processing_seconds`` and
``rpc_client_invocation_end_total``. Labels: ``call_type``, ``exchange``,
``topic``, ``namespace``, ``version``, ``server``, ``fanout``, ``method``,
``timeout`` (always None, as oslo sends it) and ``process``.

Server side, the ``rpc_server_*`` twins that oslo.metrics defines but
oslo.messaging 18.3 never sends, for each request that reaches an
endpoint method. Labels: ``endpoint`` (its class name), ``namespace``,
``version``, ``method``, ``exchange``, ``topic``, ``server`` and
``process``.
"""
from __future__ import annotations

import contextlib
import json
import threading
import time
from typing import Any, Iterator, Optional

from messaging.observability import metrics_socket
from messaging.observability.options import METRICS_GROUP

_senders: dict[str, metrics_socket.MetricsSocketSender] = {}
_senders_lock = threading.Lock()


def sender_for(conf: Any) -> metrics_socket.MetricsSocketSender:
    """The process's sender for the socket ``conf`` names (one per socket)."""
    group = conf[METRICS_GROUP]
    path = group.metrics_socket_file
    sender = _senders.get(path)
    if sender is None:
        with _senders_lock:
            sender = _senders.get(path)
            if sender is None:
                sender = metrics_socket.MetricsSocketSender(
                    path, group.metrics_buffer_size, group.metrics_thread_stop_timeout)
                _senders[path] = sender
    return sender


class _Recorder:
    """Sends the start/end/duration/exception quartet of one invocation."""

    def __init__(self, conf: Any, side: str, labels: dict) -> None:
        self._sender = sender_for(conf)
        self._side = side
        self._labels = labels
        self._process = conf[METRICS_GROUP].metrics_process_name
        self._labels_json: Optional[str] = None

    def send(self, event: str, action: str = 'inc', value: Optional[float] = None,
             **extra: Any) -> None:
        name = 'rpc_%s_%s' % (self._side, event)
        if extra:
            labels = dict(self._labels, **extra)
            labels['process'] = self._process
            datagram = metrics_socket.encode_metric(name, action, value, labels)
        else:
            if self._labels_json is None:
                self._labels_json = json.dumps(dict(self._labels, process=self._process))
            datagram = metrics_socket.encode_with_labels(name, action, value,
                                                         self._labels_json)
        self._sender.put(datagram)

    @contextlib.contextmanager
    def measure(self) -> Iterator[None]:
        self.send('invocation_start_total')
        started = time.time()
        try:
            yield
        except Exception as ex:
            self.send('exception_total', exception=exception_name(ex))
            raise
        self.send('processing_seconds', 'observe', time.time() - started)
        self.send('invocation_end_total')


def exception_name(ex: BaseException) -> str:
    """The ``exception`` label: the class name, the declared exception for
    an ``expected_exceptions`` wrapper."""
    exc_info = getattr(ex, 'exc_info', None)
    if isinstance(exc_info, tuple) and len(exc_info) == 3 and exc_info[1] is not None:
        ex = exc_info[1]
    return type(ex).__name__


def measure_client(conf: Any, target: Any, method: str,
                   call_type: str) -> contextlib.AbstractContextManager:
    """Measure one call or cast (``call_type`` ``'call'`` or ``'cast'``)."""
    return _Recorder(conf, 'client', {
        'call_type': call_type, 'exchange': target.exchange, 'topic': target.topic,
        'namespace': target.namespace, 'version': target.version,
        'server': target.server, 'fanout': target.fanout, 'method': method,
        'timeout': None}).measure()


def measure_server(conf: Any, target: Any, endpoint: Any,
                   message: dict) -> contextlib.AbstractContextManager:
    """Measure one request dispatched to ``endpoint`` on a server of ``target``."""
    return _Recorder(conf, 'server', {
        'endpoint': type(endpoint).__name__, 'namespace': message.get('namespace'),
        'version': message.get('version'), 'method': message.get('method'),
        'exchange': target.exchange, 'topic': target.topic,
        'server': target.server}).measure()
