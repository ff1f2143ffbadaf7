"""Notification listeners and dispatchers behave as oslo.messaging's."""

PRELUDE = """
import contextlib, threading
conf = cfg.CONF
conf([])
transport = om.get_notification_transport(conf, 'fake://')
"""


def test_the_dispatcher_answers_as_oslo_for_each_priority(same_answer):
    same_answer(PRELUDE + """
dispatcher_module = om.notify.dispatcher
class Incoming:
    def __init__(self, priority):
        self.ctxt = {}
        self.message = {'priority': priority, 'event_type': 'e', 'publisher_id': 'p',
                        'payload': {}, 'message_id': 'm', 'timestamp': 't'}
class Endpoint:
    def info(self, ctxt, publisher_id, event_type, payload, metadata):
        return None
    def error(self, ctxt, publisher_id, event_type, payload, metadata):
        return om.NotificationResult.REQUEUE
    warn = 'not callable'
endpoints = [Endpoint()]
dispatcher = dispatcher_module.NotificationDispatcher(endpoints, None)
observe('endpoints kept', dispatcher.endpoints is endpoints)
observe('priorities', sorted(dispatcher.supported_priorities))
for priority in ('INFO', 'ERROR', 'DEBUG', 'bogus', ''):
    observe(priority or 'empty', outcome(dispatcher.dispatch, Incoming(priority)))
batch = dispatcher_module.BatchNotificationDispatcher(endpoints, None)
observe('batch unknown', outcome(lambda: sorted(batch.dispatch([Incoming('bogus')]))))
""")


def test_a_listener_on_a_target_without_topic_fails_at_start(same_answer):
    same_answer(PRELUDE + """
class Endpoint:
    def info(self, *args):
        pass
for targets in ([om.Target()], [om.Target(exchange='x')], []):
    listener = om.get_notification_listener(transport, targets, [Endpoint()])
    observe(repr(targets), outcome(listener.start))
    listener.stop()
    listener.wait()
observe('not a list', outcome(om.get_notification_listener, transport, om.Target(topic='a'),
                              [Endpoint()]))
""")


def test_contexts_reach_endpoints_as_the_serializer_makes_them(same_answer):
    same_answer(PRELUDE + """
from oslo_context import context
class ContextSerializer(om.NoOpSerializer):
    def serialize_context(self, ctxt):
        return ctxt.to_dict() if hasattr(ctxt, 'to_dict') else dict(ctxt)
    def deserialize_context(self, ctxt):
        return context.RequestContext.from_dict(ctxt)
got = []
done = threading.Event()
class Endpoint:
    def info(self, ctxt, publisher_id, event_type, payload, metadata):
        got.append((type(ctxt).__name__, ctxt.user_id, ctxt.auth_token))
        if len(got) == 2:
            done.set()
notifier = om.Notifier(transport, 'pub', driver='messaging', topics=['ctx'],
                       serializer=ContextSerializer())
notifier.info(context.RequestContext(user_id='u1', auth_token='secret'), 'e', {})
notifier.info({'user_id': 'ignored'}, 'e', {})
listener = om.get_notification_listener(transport, [om.Target(topic='ctx')], [Endpoint()],
                                        serializer=ContextSerializer())
listener.start()
observe('arrived', done.wait(10))
listener.stop()
listener.wait()
observe('got', got)
""")


def test_a_batch_listener_delivers_lists_by_priority(same_answer):
    same_answer(PRELUDE + """
got = []
done = threading.Event()
class Endpoint:
    def info(self, messages):
        got.append(('info', [(m['event_type'], sorted(m)) for m in messages]))
        done.set()
notifier = om.Notifier(transport, 'pub', driver='messaging', topics=['batch'])
for n in range(3):
    notifier.info({}, 'e%d' % n, {'n': n})
listener = om.get_batch_notification_listener(
    transport, [om.Target(topic='batch')], [Endpoint()], batch_size=3, batch_timeout=5)
listener.start()
observe('arrived', done.wait(10))
listener.stop()
listener.wait()
observe('got', got)
""")


def test_the_error_handler_publishes_the_records_message(same_answer):
    same_answer(PRELUDE + """
import importlib, logging
impl_test = importlib.import_module(om.__name__ + '.notify._impl_test')
conf.set_override('driver', ['test'], group='oslo_messaging_notifications')
conf.set_override('transport_url', 'fake://', group='oslo_messaging_notifications')
handler = om.PublishErrorsHandler(logging.ERROR)
observe('level', handler.level)
handler.emit(logging.LogRecord('x', logging.ERROR, 'f', 1, 'failed %s', ('here',), None))
observe('sent', [(c, m['publisher_id'], m['event_type'], m['payload'], p)
                 for c, m, p, _r in impl_test.NOTIFICATIONS])
""")


def test_the_logging_handler_sends_a_notification_per_record(same_answer):
    same_answer(PRELUDE + """
import importlib, logging
impl_test = importlib.import_module(om.__name__ + '.notify._impl_test')
handler = om.LoggingNotificationHandler('fake://', publisher_id='pub', driver='test',
                                        topic='logs')
handler.emit(logging.LogRecord('x', logging.WARNING, 'f', 1, 'careful %s', ('now',), None))
handler.emit(logging.LogRecord('x', 5, 'f', 1, 'odd level', (), None))
observe('sent', [(c, m['event_type'], p, sorted(m['payload']), m['payload']['msg'])
                 for c, m, p, _r in impl_test.NOTIFICATIONS])
""")
