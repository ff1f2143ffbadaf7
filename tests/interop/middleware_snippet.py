"""What RequestNotifier sends for a few requests, printed as JSON.

Run as ``python middleware_snippet.py <package>`` with ``oslo_messaging``
under oslo.messaging's interpreter and ``messaging`` under ours; the two
outputs must be equal (message ids and timestamps left out).
"""
import importlib
import json
import sys

import webob
from oslo_config import cfg

package = sys.argv[1]
library = importlib.import_module(package)
middleware = importlib.import_module(package + '.notify.middleware')
collected = importlib.import_module(package + '.notify._impl_test').NOTIFICATIONS

cfg.CONF([])
library.Notifier(library.get_notification_transport(cfg.CONF, 'fake://'))  # registers options
cfg.CONF.set_override('driver', ['test'], group='oslo_messaging_notifications')
cfg.CONF.set_override('transport_url', 'fake://', group='oslo_messaging_notifications')


def answering_app(environ, start_response):
    start_response('201 Created', [('X-Answer', '42')])
    return [b'made']


def failing_app(environ, start_response):
    raise ValueError('the application broke')


served = middleware.RequestNotifier.factory(
    {'publisher_id': 'api.host1'}, ignore_req_list='head, options')(answering_app)
webob.Request.blank('/servers?limit=2', method='POST',
                    headers={'X-Auth-Token': 'secret', 'Host': 'api:8774'}).get_response(served)
webob.Request.blank('/', method='HEAD').get_response(served)
try:
    webob.Request.blank('/').get_response(
        middleware.RequestNotifier(failing_app, service_name='nova-api'))
except ValueError:
    pass

observed = []
for ctxt, message, priority, retry in collected:
    payload = message['payload']
    observed.append({
        'ctxt': ctxt, 'priority': priority, 'retry': retry,
        'message_keys': sorted(message), 'event_type': message['event_type'],
        'publisher_id': message['publisher_id'], 'payload_keys': sorted(payload),
        'request': payload['request'],
        'response': {'status': payload['response']['status'],
                     'headers': dict(payload['response']['headers'])}
        if 'response' in payload else None,
        'exception': payload['exception']['value'] if 'exception' in payload else None,
    })
print(json.dumps(observed, sort_keys=True))
