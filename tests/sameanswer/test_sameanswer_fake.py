"""The ``fake://`` driver behaves as oslo.messaging's: services' suites assert on it."""

# Shared by the snippets: a config, an endpoint that records what it got,
# and a server started and stopped around a block, with bounded waits.
PRELUDE = """
import contextlib, threading
conf = cfg.CONF
conf([])

class Recorder:
    def __init__(self, expected=1):
        self.seen = []
        self.expected = expected
        self.done = threading.Event()

    def record(self, ctxt, **kwargs):
        self.seen.append((ctxt, kwargs))
        if len(self.seen) >= self.expected:
            self.done.set()

@contextlib.contextmanager
def running(server):
    server.start()
    try:
        yield server
    finally:
        server.stop()
        server.wait()

class Casts:
    # An endpoint whose m(i) the recorder records.
    def __init__(self, recorder):
        self.recorder = recorder
    def m(self, ctxt, i):
        self.recorder.record(ctxt, i=i)

def serve_until_recorded(transport, topic, recorder):
    # Run server s1 of the topic until the recorder saw what it expects.
    server = om.get_rpc_server(transport, om.Target(topic=topic, server='s1'),
                               [Casts(recorder)])
    conf.set_override('executor_thread_pool_size', 1)  # handled in the order taken
    with running(server):
        observe('arrived', recorder.done.wait(10))
"""


def test_transports_of_one_process_share_one_broker(same_answer):
    same_answer(PRELUDE + """
class Endpoint:
    def echo(self, ctxt, value):
        return value
server_side = om.get_rpc_transport(conf, 'fake://')
client_side = om.get_rpc_transport(conf, 'fake://')
server = om.get_rpc_server(server_side, om.Target(topic='shared', server='s1'), [Endpoint()])
with running(server):
    client = om.get_rpc_client(client_side, om.Target(topic='shared'), timeout=10)
    observe('reply', client.call({}, 'echo', value='hello'))
""")


def test_a_cast_sent_before_any_server_waits_for_it(same_answer):
    same_answer(PRELUDE + """
transport = om.get_rpc_transport(conf, 'fake://')
recorder = Recorder(expected=2)
client = om.get_rpc_client(transport, om.Target(topic='early'))
client.cast({}, 'm', i=1)
client.prepare(server='s1').cast({}, 'm', i=2)
client.prepare(fanout=True).cast({}, 'm', i=3)   # no server queue yet: lost
serve_until_recorded(transport, 'early', recorder)
observe('seen', sorted(kwargs['i'] for _ctxt, kwargs in recorder.seen))
""")


def test_a_backlog_is_taken_server_queue_first_each_in_order_sent(same_answer):
    same_answer(PRELUDE + """
transport = om.get_rpc_transport(conf, 'fake://')
recorder = Recorder(expected=4)
client = om.get_rpc_client(transport, om.Target(topic='backlog'))
for i in range(4):
    (client.prepare(server='s1') if i % 2 else client).cast({}, 'm', i=i)
serve_until_recorded(transport, 'backlog', recorder)
observe('order', [kwargs['i'] for _ctxt, kwargs in recorder.seen])
""")


def test_one_consumer_sees_topic_and_fanout_messages_in_the_order_sent(same_answer):
    same_answer(PRELUDE + """
transport = om.get_rpc_transport(conf, 'fake://')
handled = []
class Endpoint:
    def m(self, ctxt, i):
        handled.append(i)
        return i
server = om.get_rpc_server(transport, om.Target(topic='order', server='s1'), [Endpoint()])
client = om.get_rpc_client(transport, om.Target(topic='order'), timeout=10)
with running(server):
    for i in range(6):
        if i % 2:
            client.prepare(fanout=True).cast({}, 'm', i=i)
        # a call after each message: the server has taken all before it
        client.call({}, 'm', i=100 + i)
observe('order', handled)
""")


def test_a_notification_sent_before_any_listener_waits_for_it(same_answer):
    same_answer(PRELUDE + """
transport = om.get_notification_transport(conf, 'fake://')
notifier = om.Notifier(transport, 'pub', driver='messaging', topics=['early'])
notifier.info({}, 'first', {'n': 1})
notifier.info({}, 'second', {'n': 2})
got = []
done = threading.Event()
class Endpoint:
    def info(self, ctxt, publisher_id, event_type, payload, metadata):
        got.append((ctxt, publisher_id, event_type, payload, sorted(metadata)))
        if len(got) == 2:
            done.set()
listener = om.get_notification_listener(transport, [om.Target(topic='early')], [Endpoint()])
with running(listener):
    observe('arrived', done.wait(10))
observe('got', got)
""")


def test_each_pool_gets_a_copy_of_what_waited(same_answer):
    same_answer(PRELUDE + """
transport = om.get_notification_transport(conf, 'fake://')
notifier = om.Notifier(transport, 'pub', driver='messaging', topics=['pooled'])
notifier.info({}, 'before', {})
got = {'a': [], 'b': []}
done = {'a': threading.Event(), 'b': threading.Event()}
def endpoint(pool):
    class Endpoint:
        def info(self, ctxt, publisher_id, event_type, payload, metadata):
            got[pool].append(event_type)
            if len(got[pool]) == 2:
                done[pool].set()
    return Endpoint()
listeners = [om.get_notification_listener(transport, [om.Target(topic='pooled')],
                                          [endpoint(pool)], pool=pool) for pool in 'ab']
for listener in listeners:
    listener.start()
notifier.info({}, 'after', {})
observe('arrived', [done[pool].wait(10) for pool in 'ab'])
for listener in listeners:
    listener.stop()
    listener.wait()
observe('got', got)
""")


def test_arguments_results_and_contexts_arrive_as_sent(same_answer):
    same_answer(PRELUDE + """
transport = om.get_rpc_transport(conf, 'fake://')
class Endpoint:
    def echo(self, ctxt, value, items):
        observe('server ctxt', sorted(ctxt))
        observe('server types', [type(value).__name__, type(items).__name__])
        return (value, items)
server = om.get_rpc_server(transport, om.Target(topic='types', server='s1'), [Endpoint()])
with running(server):
    client = om.get_rpc_client(transport, om.Target(topic='types'), timeout=10,
                               call_monitor_timeout=5)
    result = client.call({'user': 'u1', 'project': 'p1'}, 'echo', value=(1, 2),
                         items={'k': (3,)})
observe('result type', type(result).__name__)
observe('result', repr(result))
""")


def test_a_request_context_comes_back_through_the_serializer(same_answer):
    same_answer(PRELUDE + """
from oslo_context import context
transport = om.get_rpc_transport(conf, 'fake://')
class ContextSerializer(om.NoOpSerializer):   # as services write theirs
    def serialize_context(self, ctxt):
        return ctxt.to_dict()
    def deserialize_context(self, ctxt):
        return context.RequestContext.from_dict(ctxt)
serializer = ContextSerializer()
class Endpoint:
    def whoami(self, ctxt):
        observe('server ctxt type', type(ctxt).__name__)
        return [ctxt.user_id, ctxt.project_id, ctxt.request_id]
server = om.get_rpc_server(transport, om.Target(topic='ctx', server='s1'), [Endpoint()],
                           serializer=serializer)
ctxt = context.RequestContext(user_id='u1', project_id='p1', request_id='req-1')
with running(server):
    client = om.get_rpc_client(transport, om.Target(topic='ctx'), timeout=10,
                               serializer=serializer)
    observe('reply', client.call(ctxt, 'whoami'))
""")


def test_failures_reach_the_caller_as_the_fake_driver_raises_them(same_answer):
    same_answer(PRELUDE + """
transport = om.get_rpc_transport(conf, 'fake://')
class Custom(Exception):
    pass
class Endpoint:
    target = om.Target(version='1.1')
    def boom(self, ctxt):
        raise ValueError('the value is wrong')
    def custom(self, ctxt):
        raise Custom('mine', 42)
    @om.expected_exceptions(KeyError)
    def expected(self, ctxt):
        raise KeyError('k')
server = om.get_rpc_server(transport, om.Target(topic='fail', server='s1'), [Endpoint()])
with running(server):
    client = om.get_rpc_client(transport, om.Target(topic='fail'), timeout=10)
    observe('builtin', outcome(client.call, {}, 'boom'))
    observe('custom', outcome(client.call, {}, 'custom'))
    observe('expected', outcome(client.call, {}, 'expected'))
    observe('no such method', outcome(client.call, {}, 'nothere'))
    observe('unsupported version', outcome(client.prepare(version='2.0').call, {}, 'boom'))
    observe('namespace', outcome(client.prepare(namespace='x').call, {}, 'boom'))
""")


def test_a_call_nobody_answers_times_out_as_oslo_says(same_answer):
    same_answer(PRELUDE + """
transport = om.get_rpc_transport(conf, 'fake://')
client = om.get_rpc_client(transport, om.Target(topic='nobody'), timeout=0.2)
observe('timeout', outcome(client.call, {}, 'm'))
""")


def test_a_request_that_cannot_be_json_encoded_is_refused(same_answer):
    same_answer(PRELUDE + """
import datetime
transport = om.get_rpc_transport(conf, 'fake://')
client = om.get_rpc_client(transport, om.Target(topic='json'))
observe('datetime', outcome(client.cast, {}, 'm', when=datetime.datetime(2024, 1, 2)))
observe('set', outcome(client.cast, {}, 'm', items={1, 2}))
observe('object context', outcome(client.cast, {'x': object()}, 'm'))
bad = outcome(client.cast, {}, 'm', x=object())
observe('object', [bad['raised'], bad['message'].startswith('Cannot convert <object object')])
""")


def test_cleanup_of_any_transport_empties_the_broker(same_answer):
    same_answer(PRELUDE + """
one = om.get_rpc_transport(conf, 'fake://')
other = om.get_rpc_transport(conf, 'fake://')
recorder = Recorder()
om.get_rpc_client(one, om.Target(topic='clean')).cast({}, 'm', i=1)
other.cleanup()
om.get_rpc_client(one, om.Target(topic='clean')).cast({}, 'm', i=2)
serve_until_recorded(one, 'clean', recorder)
observe('seen', [kwargs['i'] for _ctxt, kwargs in recorder.seen])
""")


def test_a_requeued_notification_is_delivered_again(same_answer):
    same_answer(PRELUDE + """
transport = om.get_notification_transport(conf, 'fake://')
notifier = om.Notifier(transport, 'pub', driver='messaging', topics=['again'])
got = []
done = threading.Event()
class Endpoint:
    def info(self, ctxt, publisher_id, event_type, payload, metadata):
        got.append(event_type)
        if len(got) == 3:
            done.set()
        return om.NotificationResult.REQUEUE if len(got) == 1 else None
listener = om.get_notification_listener(transport, [om.Target(topic='again')], [Endpoint()],
                                        allow_requeue=True)
notifier.info({}, 'one', {})
notifier.info({}, 'two', {})
with running(listener):
    observe('arrived', done.wait(10))
observe('got', got)
""")
