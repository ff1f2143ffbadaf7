"""The Notifier behaves as oslo.messaging's: drivers, contexts, timestamps."""

# A notifier on the ``test`` driver, whose NOTIFICATIONS list shows what was sent.
PRELUDE = """
import importlib
conf = cfg.CONF
conf([])
impl_test = importlib.import_module(om.__name__ + '.notify._impl_test')
transport = om.get_notification_transport(conf, 'fake://')

def sent():
    return [(ctxt, {k: v for k, v in msg.items() if k not in ('message_id', 'timestamp')},
             priority, retry)
            for ctxt, msg, priority, retry in impl_test.NOTIFICATIONS]
"""


def test_is_enabled_follows_the_drivers_loaded(same_answer):
    same_answer(PRELUDE + """
observe('no driver list', om.Notifier(transport).is_enabled())
observe('noop', om.Notifier(transport, driver='noop').is_enabled())
observe('log', om.Notifier(transport, driver='log').is_enabled())
observe('unknown', om.Notifier(transport, driver='nonesuch').is_enabled())
conf.set_override('driver', ['noop'], group='oslo_messaging_notifications')
observe('configured noop', om.Notifier(transport).is_enabled())
observe('prepared', om.Notifier(transport).prepare(publisher_id='x').is_enabled())
conf.set_override('driver', ['noop', 'test'], group='oslo_messaging_notifications')
observe('noop and test', om.Notifier(transport).is_enabled())
""")


def test_timestamps_come_from_timeutils_and_honour_a_time_override(same_answer):
    same_answer(PRELUDE + """
import datetime
from oslo_utils import timeutils
notifier = om.Notifier(transport, 'pub', driver='test')
timeutils.set_time_override(datetime.datetime(2024, 5, 6, 7, 8, 9, 123456))
notifier.info({}, 'with.micro', {})
timeutils.set_time_override(datetime.datetime(2024, 5, 6, 7, 8, 9))
notifier.info({}, 'whole.second', {})
timeutils.clear_time_override()
observe('timestamps', [msg['timestamp'] for _c, msg, _p, _r in impl_test.NOTIFICATIONS])
""")


def test_what_the_test_driver_records(same_answer):
    same_answer(PRELUDE + """
notifier = om.Notifier(transport, 'pub.host', driver='test', retry=3)
for level in ('audit', 'debug', 'info', 'warn', 'warning', 'error', 'critical', 'sample'):
    getattr(notifier, level)({}, 'event.' + level, {'level': level})
notifier.prepare(publisher_id='other', retry=0).info(None, 'prepared', [1, (2, 3)])
notifier.prepare().info({'a': 1}, 'prepared.again', None)
observe('timestamps are text',
        {type(m['timestamp']).__name__ for _c, m, _p, _r in impl_test.NOTIFICATIONS})
observe('sent', [(c, sorted(m.items()), p, r) for c, m, p, r in sent()])
observe('message keys', sorted(impl_test.NOTIFICATIONS[0][1]))
""")


def test_a_request_context_goes_out_as_its_redacted_copy(same_answer):
    same_answer(PRELUDE + """
from oslo_context import context
notifier = om.Notifier(transport, 'pub', driver='test')
ctxt = context.RequestContext(user_id='u1', project_id='p1', auth_token='secret',
                              request_id='req-1')
notifier.info(ctxt, 'redacted', {})
out = impl_test.NOTIFICATIONS[0][0]
observe('type', type(out).__name__)
observe('same object', out is ctxt)
observe('token', out.auth_token)
observe('user', out.user_id)
class NoRedaction:
    pass
notifier.info(NoRedaction(), 'unredactable', {})
observe('unredactable', impl_test.NOTIFICATIONS[1][0])
""")


def test_the_serializer_sees_the_sanitised_context_and_the_payload(same_answer):
    same_answer(PRELUDE + """
calls = []
class Recording(om.NoOpSerializer):
    def serialize_context(self, ctxt):
        calls.append(('context', repr(ctxt)))
        return {'serialized': True}
    def serialize_entity(self, ctxt, entity):
        calls.append(('entity', repr(ctxt), entity))
        return {'wrapped': entity}
for driver in ('test', 'noop', None):
    notifier = om.Notifier(transport, 'pub', driver=driver, serializer=Recording())
    notifier.info({'user': 'u'}, 'e', {'p': 1})
    notifier.info(None, 'e', 2)
observe('calls', calls)
observe('sent', sent())
""")


def test_a_failing_serializer_or_driver(same_answer):
    same_answer(PRELUDE + """
class Broken(om.NoOpSerializer):
    def serialize_context(self, ctxt):
        return ctxt.to_dict()     # a dict context has none
observe('broken serializer', outcome(
    om.Notifier(transport, 'pub', driver='test', serializer=Broken()).info, {}, 'e', {}))
observe('returned', outcome(om.Notifier(transport, 'pub', driver='test').info, {}, 'e', {}))
""")


def test_get_notification_transport_is_in_the_notifier_module(same_answer):
    same_answer(PRELUDE + """
t = om.notify.notifier.get_notification_transport(conf, 'fake://')
observe('class', type(t).__name__)
observe('same function', om.notify.notifier.get_notification_transport
        is om.get_notification_transport)
conf.set_override('transport_url', 'fake://', group='oslo_messaging_notifications')
observe('from config', type(om.notify.notifier.get_notification_transport(conf)).__name__)
""")


def test_prepare_keeps_or_replaces_publisher_and_retry(same_answer):
    same_answer(PRELUDE + """
notifier = om.Notifier(transport, 'pub', driver='test', retry=5)
child = notifier.prepare(publisher_id='child')
observe('child', [child.publisher_id, child.retry, type(child).__name__])
grandchild = child.prepare(retry=None)
observe('grandchild', [grandchild.publisher_id, grandchild.retry])
grandchild.info({}, 'e', {})
observe('retry sent', [r for _c, _m, _p, r in impl_test.NOTIFICATIONS])
observe('no retry', om.Notifier(transport, 'pub', driver='test').retry)
""")


def test_reset_of_the_test_driver_starts_a_new_list(same_answer):
    same_answer(PRELUDE + """
notifier = om.Notifier(transport, 'pub', driver='test')
notifier.info({}, 'before', {})
kept = impl_test.NOTIFICATIONS
impl_test.reset()
notifier.info({}, 'after', {})
observe('kept', [m['event_type'] for _c, m, _p, _r in kept])
observe('now', [m['event_type'] for _c, m, _p, _r in impl_test.NOTIFICATIONS])
""")
