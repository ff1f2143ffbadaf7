"""Sends metrics to the oslo.metrics daemon over its unix datagram socket.

One datagram per metric, JSON as oslo.metrics' ``Metric.to_json`` writes
it: ``{"module": "oslo_messaging", "name": ..., "action": {"value": ...,
"action": "inc"|"observe"}, "labels": {...}}``. The daemon needs nothing
else, so this module does not import oslo.metrics.

Callers only queue a metric; a background thread sends it, so a slow or
absent daemon never holds up a call. The thread stops after
``metrics_thread_stop_timeout`` idle seconds (it must not hold up a
process shutdown) and starts again with the next metric. A daemon that is
down is logged once, its metrics dropped until it is back.
"""
from __future__ import annotations

import json
import queue
import socket
import threading
from typing import Optional

from messaging import log_names

LOG = log_names.get_logger(__name__)

MODULE = 'oslo_messaging'


def encode_metric(name: str, action: str, value: Optional[float], labels: dict) -> bytes:
    """The datagram the daemon expects for one metric."""
    return encode_with_labels(name, action, value, json.dumps(labels))


def encode_with_labels(name: str, action: str, value: Optional[float],
                       labels_json: str) -> bytes:
    """:func:`encode_metric` with the labels already JSON: an invocation
    sends three or four metrics with the same labels, encoded once. The
    text is what ``json.dumps`` writes for the whole dict."""
    return ('{"module": "%s", "name": %s, "action": {"value": %s, "action": "%s"}, '
            '"labels": %s}' % (MODULE, json.dumps(name), json.dumps(value), action,
                               labels_json)).encode()


class MetricsSocketSender:
    """Queues datagrams and sends them to ``socket_path`` from a thread.

    :param socket_path: the daemon's socket (``metrics_socket_file``).
    :param buffer_size: how many datagrams may wait; more are dropped.
    :param idle_timeout: seconds without a datagram before the thread stops.
    """

    def __init__(self, socket_path: str, buffer_size: int, idle_timeout: float) -> None:
        self.socket_path = socket_path
        self._queue: queue.Queue = queue.Queue(max(1, buffer_size))
        self._idle_timeout = max(0.1, idle_timeout)
        self._thread: Optional[threading.Thread] = None
        self._thread_lock = threading.Lock()
        self._socket: Optional[socket.socket] = None
        self._daemon_down = False
        self._buffer_full = False
        self._dropped = 0
        self._pending = 0
        self._settled = threading.Condition()

    def put(self, datagram: bytes) -> None:
        """Queue one datagram; never blocks, never raises."""
        with self._settled:
            self._pending += 1
        try:
            self._queue.put_nowait(datagram)
        except queue.Full:
            self._settle_one()
            self._dropped += 1
            if not self._buffer_full:
                self._buffer_full = True
                LOG.warning('The metrics buffer (%d) is full: dropping metrics for '
                            '%s until the sender catches up', self._queue.maxsize,
                            self.socket_path)
        self._ensure_thread()

    def _ensure_thread(self) -> None:
        thread = self._thread
        if thread is not None and thread.is_alive():
            return
        with self._thread_lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._send_loop, daemon=True,
                                                name='messaging-metrics-sender')
                self._thread.start()

    def _send_loop(self) -> None:
        while True:
            try:
                datagram = self._queue.get(timeout=self._idle_timeout)
            except queue.Empty:
                # Another put may have come between the timeout and now: it
                # starts a new thread once this one is no longer alive.
                self._close()
                return
            try:
                self._send(datagram)
            finally:
                self._settle_one()
            if self._buffer_full and self._queue.empty():
                LOG.warning('The metrics sender for %s caught up after dropping %d '
                            'metrics', self.socket_path, self._dropped)
                self._buffer_full, self._dropped = False, 0

    def _settle_one(self) -> None:
        with self._settled:
            self._pending -= 1
            if not self._pending:
                self._settled.notify_all()

    def _send(self, datagram: bytes) -> None:
        try:
            if self._socket is None:
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                try:
                    sock.connect(self.socket_path)
                except OSError:
                    sock.close()
                    raise
                self._socket = sock
            self._socket.send(datagram)
        except OSError as ex:
            # A restarted daemon binds a new socket: reconnect next time.
            self._close()
            if not self._daemon_down:
                self._daemon_down = True
                LOG.warning('Cannot send metrics to the oslo.metrics daemon at %s (%s); '
                            'dropping metrics until it is reachable again',
                            self.socket_path, ex)
            return
        if self._daemon_down:
            self._daemon_down = False
            LOG.info('The oslo.metrics daemon at %s is reachable again', self.socket_path)

    def _close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    def flush(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the queue to empty (for tests
        and shutdown); whether it did."""
        with self._settled:
            return self._settled.wait_for(lambda: not self._pending, timeout)

