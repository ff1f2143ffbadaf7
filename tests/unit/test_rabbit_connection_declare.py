"""Declarations on a link's channel: once per channel, the
durability fallback of WIRE.md 4.4 (a durable declaration refused over
``durable`` alone is made again non-durable, on a fresh channel), and a
queue of another type used as it is while a fleet changes queue type."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
from amqp import exceptions as amqp_exc

from messaging.drivers.rabbit.declarations import ChannelDeclarer, ExchangeSpec, QueueSpec
from messaging.drivers.rabbit.errors import DeclareAgain, QueueRefused
from tests.unit.rabbit_fakes import linked

DURABLE_REFUSED = ("PRECONDITION_FAILED - inequivalent arg 'durable' for queue 'q' in "
                   "vhost '/': received 'true' but current is 'false'")
DENIED_TRANSIENT = ('INTERNAL_ERROR - Feature `transient_nonexcl_queues` is deprecated.\n'
                    'Its use is not permitted per the configuration')
EXCHANGE = ExchangeSpec('x', 'topic', durable=True, auto_delete=False)
QUEUE = QueueSpec('q', durable=True, auto_delete=False, bindings=((EXCHANGE, 'k'),))


class FakeChannel:
    """Records declarations; refuses durable ones of names in ``non_durable``."""

    def __init__(self, non_durable=(), refusal=DURABLE_REFUSED) -> None:
        self.calls = []
        self._non_durable = set(non_durable)
        self._refusal = refusal
        self.deny_transient = False
        self.gone = set()
        self.connection = SimpleNamespace(transport=SimpleNamespace(sock=None))

    def _declare(self, kind, name, durable):
        self.calls.append((kind, name, durable))
        if self.deny_transient and kind == 'queue' and not durable:
            raise amqp_exc.InternalError(DENIED_TRANSIENT)
        if durable and name in self._non_durable:
            raise amqp_exc.PreconditionFailed(self._refusal)

    def exchange_declare(self, name, type, durable, auto_delete):
        self._declare('exchange', name, durable)

    def queue_declare(self, name, durable=False, auto_delete=False, arguments=None,
                      passive=False):
        if passive:
            self.calls.append(('passive', name))
            if name in self.gone:
                raise amqp_exc.NotFound("NOT_FOUND - no queue '%s' in vhost '/'" % name)
            return
        self._declare('queue', name, durable)

    def queue_bind(self, queue, exchange, key):
        self.calls.append(('bind', queue, exchange))


@pytest.fixture
def declarer():
    return ChannelDeclarer(lambda: 'h:5672')


def test_exchanges_are_declared_once_per_channel(declarer):
    channel = FakeChannel()
    declarer.queue(channel, QUEUE)
    declarer.queue(channel, QUEUE)
    declarer.forget()
    declarer.exchange(channel, EXCHANGE)
    assert [c for c in channel.calls if c[0] == 'exchange'] == [('exchange', 'x', True)] * 2
    assert channel.calls.count(('queue', 'q', True)) == 2


def test_a_durable_declaration_refused_over_durable_is_made_again_non_durable(declarer):
    channel = FakeChannel(non_durable={'q'})
    with pytest.raises(DeclareAgain):
        declarer.queue(channel, QUEUE)
    declarer.forget()
    declarer.queue(channel, QUEUE)
    assert [c for c in channel.calls if c[0] == 'queue'] == [('queue', 'q', True),
                                                             ('queue', 'q', False)]


def test_other_mismatches_stay_errors(declarer):
    channel = FakeChannel(non_durable={'q'}, refusal="PRECONDITION_FAILED - inequivalent "
                                                    "arg 'x-expires' for queue 'q'")
    with pytest.raises(QueueRefused) as caught:
        declarer.queue(channel, QUEUE)
    assert caught.value.queue.startswith('q (durable True, auto-delete False')
    assert isinstance(caught.value.cause, amqp_exc.PreconditionFailed)


QUORUM = QueueSpec('q', durable=True, auto_delete=False,
                   arguments={'x-queue-type': 'quorum'}, bindings=((EXCHANGE, 'k'),))
CLASSIC_HERE = ("PRECONDITION_FAILED - inequivalent arg 'x-queue-type' for queue 'q' in "
                "vhost '/': received the value 'quorum' of type 'longstr' but current is none")


@pytest.mark.parametrize('refusal', [CLASSIC_HERE, DURABLE_REFUSED])
def test_a_queue_of_another_type_is_used_as_it_is_until_it_is_gone(declarer, refusal,
                                                                   caplog):
    channel = FakeChannel(non_durable={'q'}, refusal=refusal)
    with pytest.raises(DeclareAgain):
        declarer.queue(channel, QUORUM)
    assert declarer.uses_as_found('q')
    declarer.forget()
    declarer.queue(channel, QUORUM)
    declarer.forget()
    declarer.queue(channel, QUORUM)
    assert channel.calls.count(('passive', 'q')) == 2
    assert channel.calls.count(('bind', 'q', 'x')) == 2
    # Said once, not at each declaration.
    assert len([r for r in caplog.records if r.levelname == 'WARNING']) == 1
    assert 'rabbit_quorum_queue' in caplog.records[0].getMessage()
    # The old queue deleted, the next try declares the queue as configured.
    channel.gone.add('q')
    with pytest.raises(DeclareAgain):
        declarer.queue(channel, QUORUM)
    assert not declarer.uses_as_found('q')
    channel._non_durable.clear()
    declarer.queue(channel, QUORUM)
    assert channel.calls[-2] == ('queue', 'q', True)


def test_a_non_durable_declaration_refused_stays_an_error(declarer):
    def refuse(durable):
        raise amqp_exc.PreconditionFailed(DURABLE_REFUSED)

    with pytest.raises(amqp_exc.PreconditionFailed):
        declarer._with_fallback('exchange', 'q', False, refuse)


def test_the_link_declares_again_on_a_fresh_channel_after_the_fallback():
    link, kombu = linked(lambda: FakeChannel(non_durable={'x'}))
    try:
        # retry=0: the fallback is no failed attempt.
        link.ensure(lambda channel: link.declarer.exchange(channel, EXCHANGE), retry=0)
    finally:
        link.close()
    assert len(kombu.channels) == 2
    assert kombu.channels[-1].calls == [('exchange', 'x', False)]


REPLY = QueueSpec('reply_1', durable=False, auto_delete=False,
                  arguments={'x-expires': 1800000}, private=True)


def test_private_queues_are_made_durable_where_the_broker_denies_transient_ones(
        declarer, caplog):
    channel = FakeChannel()
    channel.deny_transient = True
    with pytest.raises(DeclareAgain):
        declarer.queue(channel, REPLY)
    declarer.forget()
    declarer.queue(channel, REPLY)
    declarer.queue(channel, QueueSpec('reply_2', durable=False, auto_delete=False,
                                      arguments={'x-expires': 1800000}, private=True))
    assert [c for c in channel.calls if c[0] == 'queue'] == [
        ('queue', 'reply_1', False), ('queue', 'reply_1', True), ('queue', 'reply_2', True)]
    assert len([r for r in caplog.records if r.levelname == 'WARNING']) == 1


@pytest.mark.parametrize('spec', [
    QueueSpec('topic', durable=False, auto_delete=False),  # shared: peers must agree
    QueueSpec('reply_1', durable=False, auto_delete=False, private=True),  # would never expire
])
def test_other_queues_refused_as_transient_stay_refusals(declarer, spec):
    channel = FakeChannel()
    channel.deny_transient = True
    with pytest.raises(QueueRefused):
        declarer.queue(channel, spec)
