"""Payloads are converted to primitives as oslo.messaging 18.3.1 converts them.

Hostile and odd payloads (cycles, mocks, classes, functions, deep nesting,
``to_dict()`` and ``iteritems()`` objects, datetimes, sets, bytes, Decimal,
exceptions, generators) go through the JSON payload serializer, a notifier
that uses it, and the wire encoding of an RPC message, under both
libraries: what comes out (or the error raised) must be the same.
"""

# ``PAYLOADS`` builds the same objects under both libraries; ``norm`` hides
# what differs between two processes (object addresses, mock ids).
PRELUDE = """
import collections
import datetime
import decimal
import importlib
import ipaddress
import itertools
import json
import re
import uuid
import xmlrpc.client
from unittest import mock

conf = cfg.CONF
conf([])

ADDRESS = re.compile(r"0x[0-9a-f]+|id='[0-9]+'")


def norm(value):
    if value.get('raised') == 'RecursionError':
        # Where in the stack the limit is met varies with the caller's depth.
        value['message'] = 'maximum recursion depth exceeded'
    return json.loads(ADDRESS.sub('ADDR', json.dumps(value)))


class Node:
    def __init__(self, name):
        self.name = name
        self.next = None


class WithToDict:
    def to_dict(self):
        return {'k': (1, 2), 'when': datetime.datetime(2024, 1, 2)}


class WithIteritems:
    def __init__(self):
        self.data = {'a': 1}

    def iteritems(self):
        return iter(self.data.items())

    def items(self):
        return self.data.items()


class Slotted:
    __slots__ = ('x',)

    def __init__(self):
        self.x = 1


def generator():
    yield 1


def payloads():
    cycle = Node('a')
    cycle.next = Node('b')
    cycle.next.next = cycle
    own_list = []
    own_list.append(own_list)
    own_dict = {}
    own_dict['me'] = own_dict
    deep = 'bottom'
    for _ in range(12):
        deep = {'down': deep}
    deep_list = 'bottom'
    for _ in range(12):
        deep_list = [deep_list]
    return {
        'object cycle': cycle,
        'list holding itself': own_list,
        'dict holding itself': own_dict,
        'mock': mock.Mock(),
        'magic mock': mock.MagicMock(),
        'mock in a dict': {'m': mock.sentinel.thing},
        'class': Node,
        'function': payloads,
        'lambda': lambda: 1,
        'method': Node('x').__init__,
        'generator function': generator,
        'generator': generator(),
        'itertools.count': itertools.count(),
        'module': json,
        'deep dicts': deep,
        'deep lists': deep_list,
        'deep objects': Node(Node(Node(Node(Node('five'))))),
        'to_dict object': WithToDict(),
        'iteritems object': WithIteritems(),
        'slotted object': Slotted(),
        'datetime': datetime.datetime(2024, 5, 6, 7, 8, 9, 123456),
        'aware datetime': datetime.datetime(2024, 5, 6, tzinfo=datetime.timezone.utc),
        'date': datetime.date(2024, 5, 6),
        'time': datetime.time(7, 8, 9),
        'timedelta': datetime.timedelta(seconds=5),
        'xmlrpc DateTime': xmlrpc.client.DateTime('20240506T07:08:09'),
        'set': {3},
        'frozenset': frozenset(['a']),
        'tuple': (1, (2, 3)),
        'namedtuple': collections.namedtuple('Pair', 'a b')(1, 2),
        'bytes': b'caf\\xc3\\xa9',
        'bytearray': bytearray(b'ab'),
        'Decimal': decimal.Decimal('1.10'),
        'uuid': uuid.UUID('12345678123456781234567812345678'),
        'ipv4': ipaddress.ip_address('10.0.0.1'),
        'small network': ipaddress.ip_network('10.0.0.0/30'),
        'ipv6': ipaddress.ip_address('fe80::1'),
        'exception': ValueError('bad', 7),
        'int keys': {1: 'one', (2, 3): 'tuple key'},
        'float': 1.5,
        'nan': float('nan'),
        'complex': 1j,
        'range': range(3),
        'defaultdict': collections.defaultdict(list, a=[1]),
        'ordered dict': collections.OrderedDict([('b', 1), ('a', 2)]),
    }


def each(fn, prefix=''):
    for name, payload in payloads().items():
        observe(prefix + name, norm(outcome(fn, payload)))
"""


def test_the_json_payload_serializer_converts_as_oslo(same_answer):
    same_answer(PRELUDE + """
serializer = om.JsonPayloadSerializer()
each(lambda payload: serializer.serialize_entity({}, payload))
""")


def test_a_notifier_with_the_json_serializer_sends_what_oslo_sends(same_answer):
    same_answer(PRELUDE + """
impl_test = importlib.import_module(om.__name__ + '.notify._impl_test')
transport = om.get_notification_transport(conf, 'fake://')
notifier = om.Notifier(transport, 'pub', driver='test',
                       serializer=om.JsonPayloadSerializer())

def notify(payload):
    del impl_test.NOTIFICATIONS[:]
    notifier.info({}, 'compute.instance.update', payload)
    return [msg['payload'] for _ctxt, msg, _priority, _retry in impl_test.NOTIFICATIONS]

each(notify)
""")


def test_rpc_arguments_go_on_the_wire_as_oslo_encodes_them(same_answer):
    # The 2.0 envelope's JSON text, and whether the fake driver (which checks
    # that a request could cross a real wire) accepts the argument.
    same_answer(PRELUDE + """
module = '._drivers.common' if om.__name__ == 'oslo_messaging' else '.wire'
common = importlib.import_module(om.__name__ + module)
transport = om.get_rpc_transport(conf, 'fake://')
client = om.get_rpc_client(transport, om.Target(topic='payloads'))

def envelope(payload):
    return json.loads(common.serialize_msg({'method': 'm', 'args': {'p': payload}})
                      ['oslo.message'])

each(envelope, 'envelope: ')
each(lambda payload: client.cast({}, 'm', p=payload), 'cast: ')
""")
