"""WSGI middleware that sends a notification for each HTTP request and response.

``RequestNotifier`` is oslo.messaging's middleware of the same name: a paste
filter (``factory``) or a wrapper built directly, sending ``http.request``
before the application runs and ``http.response`` after it, at ``info``
priority, through ``[oslo_messaging_notifications]`` of the global
configuration.  It needs WebOb (``pip install messaging[middleware]``).
"""
from __future__ import annotations

import functools
import os.path
import sys
import traceback as traceback_module
from typing import Any, Callable, Optional

import webob.dec
from oslo_config import cfg

from messaging import transport as msg_transport
from messaging.notify import notifier as msg_notifier
from messaging import log_names

__all__ = ['RequestNotifier']

LOG = log_names.get_logger(__name__)

# Never sent: the caller's credentials.
_SECRET_ENVIRON_KEYS = frozenset(['HTTP_X_AUTH_TOKEN'])


def log_and_ignore_error(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` that logs an exception it raises (oslo.messaging's text) and
    returns None instead: a failed notification never fails the HTTP request."""
    @functools.wraps(fn)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception as ex:
            LOG.exception('An exception occurred processing the API call: %s', ex)
    return wrapped


class RequestNotifier:
    """Notifies ``http.request`` and ``http.response`` around a WSGI application.

    :param app: the WSGI application wrapped.
    :param conf: options, as a paste filter gets them: ``url`` (the
        notification transport URL; default the configured one),
        ``publisher_id`` (default the program's name), ``service_name``
        (default the request's host) and ``ignore_req_list`` (HTTP methods,
        comma separated, passed through without a notification).
    """

    @classmethod
    def factory(cls, global_conf: dict, **local_conf: Any) -> Callable[[Any], 'RequestNotifier']:
        """The paste.deploy filter factory: local options override global ones."""
        conf = dict(global_conf)
        conf.update(local_conf)

        def wrap(app: Any) -> 'RequestNotifier':
            return cls(app, **conf)
        return wrap

    def __init__(self, app: Any, **conf: Any) -> None:
        self.application = app
        transport = msg_transport.get_notification_transport(cfg.CONF, conf.get('url'))
        self.notifier = msg_notifier.Notifier(
            transport,
            publisher_id=conf.get('publisher_id', os.path.basename(sys.argv[0])))
        self.service_name = conf.get('service_name')
        self.ignore_req_list = [method.strip().upper()
                                for method in conf.get('ignore_req_list', '').split(',')]

    @staticmethod
    def environ_to_dict(environ: dict) -> dict:
        """The CGI variables of ``environ`` (upper-case keys, as PEP 333 names
        them; the server's lower-case ones are left out), without the auth token."""
        return {key: value for key, value in environ.items()
                if key.isupper() and key not in _SECRET_ENVIRON_KEYS}

    @log_and_ignore_error
    def process_request(self, request: webob.Request) -> None:
        """Send ``http.request``, after naming the service in the environ."""
        request.environ['HTTP_X_SERVICE_NAME'] = self.service_name or request.host
        self.notifier.info({}, 'http.request',
                           {'request': self.environ_to_dict(request.environ)})

    @log_and_ignore_error
    def process_response(self, request: webob.Request,
                         response: Optional[webob.Response],
                         exception: Optional[BaseException] = None,
                         traceback: Any = None) -> None:
        """Send ``http.response``: the request, and the response or the
        exception the application raised."""
        payload: dict[str, Any] = {'request': self.environ_to_dict(request.environ)}
        if response:
            payload['response'] = {'status': response.status,
                                   'headers': response.headers}
        if exception:
            payload['exception'] = {'value': repr(exception),
                                    'traceback': traceback_module.format_tb(traceback)}
        self.notifier.info({}, 'http.response', payload)

    @webob.dec.wsgify
    def __call__(self, request: webob.Request) -> webob.Response:
        if request.method in self.ignore_req_list:
            return request.get_response(self.application)
        self.process_request(request)
        try:
            response = request.get_response(self.application)
        except Exception:
            _type, exception, traceback = sys.exc_info()
            self.process_response(request, None, exception, traceback)
            raise
        self.process_response(request, response)
        return response
