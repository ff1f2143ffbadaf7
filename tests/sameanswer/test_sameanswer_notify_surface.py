"""The public notify surface has oslo.messaging's names, parameters and defaults.

Annotations are ours (the project types its public functions); parameter
names, kinds and defaults must match.
"""

SIGNATURES = """
import inspect
def shape(fn):
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return 'no signature'
    return [(p.name, str(p.kind),
             'marker' if type(p.default) is object else
             None if p.default is inspect.Parameter.empty else repr(p.default))
            for p in params]
"""


def test_notify_package_names(same_answer):
    same_answer("""
for name in ('Notifier', 'Driver', 'NotificationFilter', 'NotificationResult',
             'NotificationServerBase', 'NotificationServer', 'BatchNotificationServer',
             'get_notification_listener', 'get_batch_notification_listener',
             'get_notification_transport', 'LoggingNotificationHandler',
             'LoggingErrorNotificationHandler', 'PublishErrorsHandler'):
    observe(name, hasattr(om.notify, name))
observe('results', [om.NotificationResult.HANDLED, om.NotificationResult.REQUEUE])
observe('priorities', om.notify.dispatcher.PRIORITIES)
import importlib
impl_log = importlib.import_module(om.__name__ + '.notify._impl_log')
observe('log base', impl_log.LogDriver.LOGGER_BASE)
""")


def test_notify_signatures(same_answer):
    same_answer(SIGNATURES + """
import importlib
notify = om.notify
impl_log = importlib.import_module(om.__name__ + '.notify._impl_log')
impl_noop = importlib.import_module(om.__name__ + '.notify._impl_noop')
impl_test = importlib.import_module(om.__name__ + '.notify._impl_test')
impl_routing = importlib.import_module(om.__name__ + '.notify._impl_routing')
for name, fn in [
        ('Notifier', notify.Notifier), ('prepare', notify.Notifier.prepare),
        ('info', notify.Notifier.info), ('warning', notify.Notifier.warning),
        ('sample', notify.Notifier.sample), ('is_enabled', notify.Notifier.is_enabled),
        ('Driver', notify.notifier.Driver), ('Driver.notify', notify.notifier.Driver.notify),
        ('get_notification_transport', notify.notifier.get_notification_transport),
        ('get_notification_listener', notify.get_notification_listener),
        ('get_batch_notification_listener', notify.get_batch_notification_listener),
        ('NotificationServerBase', notify.listener.NotificationServerBase),
        ('NotificationServer', notify.listener.NotificationServer),
        ('BatchNotificationServer', notify.listener.BatchNotificationServer),
        ('NotificationFilter', notify.NotificationFilter),
        ('match', notify.NotificationFilter.match),
        ('LoggingNotificationHandler', notify.LoggingNotificationHandler),
        ('emit', notify.LoggingNotificationHandler.emit),
        ('LogDriver.notify', impl_log.LogDriver.notify),
        ('NoOpDriver.notify', impl_noop.NoOpDriver.notify),
        ('TestDriver.notify', impl_test.TestDriver.notify), ('reset', impl_test.reset),
        ('dispatch', notify.dispatcher.NotificationDispatcher.dispatch),
        ('batch dispatch', notify.dispatcher.BatchNotificationDispatcher.dispatch)]:
    observe(name, shape(fn))
""")


def test_the_log_driver_warns_for_priorities_logging_lacks(same_answer):
    same_answer("""
import importlib, warnings
conf = cfg.CONF
conf([])
impl_log = importlib.import_module(om.__name__ + '.notify._impl_log')
driver = impl_log.LogDriver(conf, ['t'], None)
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter('always')
    driver.notify({}, {'event_type': 'e', 'payload': {}}, 'SAMPLE', None)
observe('warnings', [(w.category.__name__, str(w.message)) for w in caught])
""")


def test_the_middleware_helper_logs_an_error_and_returns_the_result(same_answer):
    same_answer("""
import importlib, logging
middleware = importlib.import_module(om.__name__ + '.notify.middleware')
records = []

class Keep(logging.Handler):
    def emit(self, record):
        records.append((record.levelname, record.getMessage()))

logging.getLogger().addHandler(Keep())

def fails(x):
    raise ValueError('no notifier: %s' % x)

observe('returns', middleware.log_and_ignore_error(lambda x: x * 2)(21))
observe('on error', middleware.log_and_ignore_error(fails)(1))
observe('logged', records)
""")
