"""Exchange and queue declarations, with the exact flags and arguments of
oslo.messaging (WIRE.md §4), and the check that refuses inconsistent options.

RabbitMQ answers 406 PRECONDITION_FAILED when a shared entity is declared
again with different flags, so every peer on a vhost must compute exactly
the same values from the same options.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from amqp import exceptions as amqp_exc

from messaging import wire
from messaging.drivers.base import TransportDriverError
from messaging.drivers.rabbit.errors import (DeclareAgain, PrivateQueueUnavailable, QueueRefused,
                                             is_durable_mismatch, is_refusal)
from messaging import log_names

LOG = log_names.get_logger(__name__)

DEFAULT_EXCHANGE = ''


class InvalidRabbitConfig(TransportDriverError):
    """The [oslo_messaging_rabbit] options contradict each other."""


@dataclass(frozen=True)
class ExchangeSpec:
    """An exchange to declare: name, type and flags."""

    name: str
    type: str
    durable: bool
    auto_delete: bool


@dataclass(frozen=True)
class QueueSpec:
    """A queue to declare and its ``(exchange, binding key)`` pairs.

    No bindings means the queue is reached through the default exchange.
    """

    name: str
    durable: bool
    auto_delete: bool
    arguments: dict = field(default_factory=dict, hash=False)
    bindings: tuple = ()
    #: Only this process declares and consumes it (a reply queue, a fanout
    #: queue of its own): its flags need not match any peer's.
    private: bool = False


def validate(conf: Any) -> None:
    """Refuse option combinations oslo.messaging refuses or cannot honour.

    :param conf: the driver's view of ``[oslo_messaging_rabbit]``.
    :raises InvalidRabbitConfig: naming the options in conflict and what to set.
    """
    problems = []
    if conf.rabbit_ha_queues and (conf.rabbit_quorum_queue
                                  or conf.rabbit_transient_quorum_queue):
        problems.append('rabbit_ha_queues cannot be combined with rabbit_quorum_queue or '
                        'rabbit_transient_quorum_queue: a queue is quorum or HA '
                        '(mirrored), not both; quorum queues are replicated already, '
                        'set rabbit_ha_queues=false')
    if conf.rabbit_quorum_queue and conf.amqp_auto_delete:
        problems.append('rabbit_quorum_queue cannot be combined with '
                        'amqp_auto_delete: quorum queues are durable and cannot '
                        'be auto-delete')
    if conf.rabbit_stream_fanout and conf.rabbit_qos_prefetch_count <= 0:
        problems.append('rabbit_stream_fanout needs rabbit_qos_prefetch_count to be set '
                        'to a value greater than 0 (the broker grants stream consumers '
                        'credit only with a prefetch count), e.g. '
                        'rabbit_qos_prefetch_count=1')
    if conf.rabbit_stream_fanout and not conf.rabbit_transient_quorum_queue:
        problems.append('rabbit_stream_fanout needs rabbit_transient_quorum_queue=true')
    if problems:
        raise InvalidRabbitConfig('Invalid [oslo_messaging_rabbit] configuration: '
                                  + '; '.join(problems))


def consumer_arguments(spec: QueueSpec, cancel_on_failover: bool) -> Optional[dict]:
    """The ``basic.consume`` arguments of a (non-stream) consumer of ``spec``.

    ``enable_cancel_on_failover`` asks for ``x-cancel-on-ha-failover``, which
    only classic (mirrored) queues know: RabbitMQ refuses it (406) on a
    quorum queue, whose consumers follow a new leader by themselves, so it
    is left out there. oslo.messaging sends it anyway and then cannot
    consume a quorum queue at all.
    """
    if cancel_on_failover and spec.arguments.get('x-queue-type') != 'quorum':
        return {'x-cancel-on-ha-failover': True}
    return None


def is_stream(spec: QueueSpec) -> bool:
    """Whether ``spec`` declares a stream (read with offsets, not drained)."""
    return spec.arguments.get('x-queue-type') == 'stream'


class Declarations:
    """Computes every entity the driver declares from the option values.

    :param queue_manager: names reply and fanout queues when
        ``use_queue_manager`` is set (see queue_manager.py); random names
        otherwise.
    """

    def __init__(self, conf: Any, queue_manager: Optional[Any] = None) -> None:
        self._durable = bool(conf.amqp_durable_queues or conf.rabbit_quorum_queue)
        self._auto_delete = bool(conf.amqp_auto_delete)
        self._transient_durable = bool(conf.rabbit_transient_quorum_queue)
        self._queue_manager = queue_manager
        self._stream_fanout = bool(conf.rabbit_stream_fanout)
        quorum_limits = {}
        for key, value in (('x-delivery-limit', conf.rabbit_quorum_delivery_limit),
                           ('x-max-in-memory-length', conf.rabbit_quorum_max_memory_length),
                           ('x-max-in-memory-bytes', conf.rabbit_quorum_max_memory_bytes)):
            if value > 0:
                quorum_limits[key] = value
        ha = {'x-ha-policy': 'all'} if conf.rabbit_ha_queues else {}
        quorum = {'x-queue-type': 'quorum', **quorum_limits}
        self._qargs = {**ha, **(quorum if conf.rabbit_quorum_queue else {})}
        self._targs = {**ha, **(quorum if conf.rabbit_transient_quorum_queue else {})}
        ttl = conf.rabbit_transient_queues_ttl
        if ttl > 0:
            self._targs['x-expires'] = ttl * 1000
        # A stream keeps its messages for the TTL (x-max-age, a string with
        # a unit) instead of expiring when unused, and takes no other argument.
        self._stream_args = {'x-queue-type': 'stream',
                             **({'x-max-age': '%ds' % ttl} if ttl > 0 else {})}

    @property
    def fanout_queues_are_private(self) -> bool:
        """Whether a server's fanout queue is its own, to delete when it stops.

        A stream is shared by all servers of the topic, and a queue manager
        name is taken up again after a restart: both stay (and expire).
        """
        return not (self._stream_fanout or self._queue_manager is not None)

    def _unique_suffix(self) -> str:
        if self._queue_manager is not None:
            return self._queue_manager.next_name()
        return wire.random_id()

    def topic_exchange(self, name: str) -> ExchangeSpec:
        """The topic exchange ``E`` of RPC and notifications."""
        return ExchangeSpec(name, 'topic', self._durable, self._auto_delete)

    def fanout_exchange(self, topic: str) -> ExchangeSpec:
        """The ``<topic>_fanout`` exchange; the broker drops it when unbound."""
        return ExchangeSpec(topic + '_fanout', 'fanout', self._transient_durable, True)

    def topic_queue(self, name: str, bindings: list[tuple[str, str]]) -> QueueSpec:
        """A topic-side queue (topic, topic.server, notification, pool).

        :param bindings: ``(topic exchange name, binding key)`` pairs.
        """
        return QueueSpec(name, self._durable, self._auto_delete, dict(self._qargs),
                         tuple((self.topic_exchange(ex), key) for ex, key in bindings))

    def fanout_queue(self, topic: str, suffix: str) -> QueueSpec:
        """A server's own ``<topic>_fanout_<suffix>`` queue."""
        return QueueSpec('%s_fanout_%s' % (topic, suffix), self._transient_durable,
                         False, dict(self._targs), ((self.fanout_exchange(topic), topic),),
                         private=True)

    def new_fanout_queue(self, topic: str) -> QueueSpec:
        """The fanout queue a new server of ``topic`` consumes.

        With ``rabbit_stream_fanout``, the topic's one ``<topic>_fanout``
        stream; else a queue of the server's own, named by the queue
        manager or at random.
        """
        if self._stream_fanout:
            return QueueSpec(topic + '_fanout', True, False, dict(self._stream_args),
                             ((self.fanout_exchange(topic), topic),))
        return self.fanout_queue(topic, self._unique_suffix())

    def reply_queue(self, name: str) -> QueueSpec:
        """The caller's reply queue, reached through the default exchange."""
        return QueueSpec(name, self._transient_durable, False, dict(self._targs),
                         private=True)

    def new_reply_queue(self) -> QueueSpec:
        """A transport's reply queue, ``reply_<queue manager name or random>``."""
        return self.reply_queue('reply_' + self._unique_suffix())


class ChannelDeclarer:
    """Declares exchanges and queues on a connection's channel.

    Exchanges (and queues asked with ``once``) are declared once per
    channel: ``forget()`` when the channel changes. Two refusals of the
    broker (406, which closes the channel) are met by declaring otherwise
    on the next try, so that a fleet can change its queue options one
    service at a time:

    - a durable declaration refused over ``durable`` alone (the entity
      exists non-durable) is made non-durable from then on, as
      oslo.messaging does (WIRE.md 4.4), so servers switched to
      ``amqp_durable_queues`` join the entities older ones declared;
    - a queue that exists as another type (``x-queue-type``: classic,
      quorum) or durable where we ask non-durable is used as the broker has
      it (a passive declaration), with one WARNING, until it is gone: then
      it is declared as configured. Servers switched to
      ``rabbit_quorum_queue`` (or back) thus consume the queue older ones
      declared, and move to the new one once an operator deletes the old.

    A private queue whose declaration the broker answers 404 (it holds the
    queue on a node that is down) raises ``PrivateQueueUnavailable``: its
    consumer moves to a queue of a new name (``ConsumerSet``).

    And one refusal of RabbitMQ 4 (541, which closes the connection): a
    broker that denies transient non-exclusive queues
    (``transient_nonexcl_queues``) gets this process's own reply and fanout
    queues durable from then on, with one WARNING (they expire once unused,
    ``x-expires``). Only theirs: a shared queue's flags must be the same for
    every peer, so its refusal says which options to change.

    Any other refusal is raised as a ``QueueRefused`` carrying the queue.

    :param host: gives the current broker, for log messages.
    """

    def __init__(self, host: Callable[[], str]) -> None:
        self._host = host
        self._declared: set[tuple[str, str]] = set()
        self._non_durable: set[tuple[str, str]] = set()
        self._as_found: set[str] = set()
        # The broker denies transient non-exclusive queues.
        self._transient_denied = False

    def forget(self) -> None:
        """The channel is new: declare everything on it again."""
        self._declared.clear()

    def uses_as_found(self, queue: str) -> bool:
        """Whether ``queue`` is used as the broker has it, not as configured
        (its consumer must then ask for nothing of its type)."""
        return queue in self._as_found

    def queue_deleted(self, queue: str) -> None:
        """The broker cancelled our consumer of ``queue``: it was deleted
        (or failed over). Declared next as configured, not first looked
        for passively as one used as found: a passive declaration of a
        missing queue would close the channel, and with it the deliveries
        received before the cancel. One that still exists as another type
        is refused and used as found again, on a new channel."""
        if queue in self._as_found:
            self._as_found.discard(queue)
            LOG.info('Queue %s, used as found on %s, was deleted; declaring it as '
                     'configured', queue, self._host())

    def exchange(self, channel: Any, spec: ExchangeSpec) -> None:
        """Declare ``spec`` unless done on this channel already."""
        if ('exchange', spec.name) in self._declared:
            return
        self._with_fallback('exchange', spec.name, spec.durable, lambda durable: (
            channel.exchange_declare(spec.name, spec.type, durable=durable,
                                     auto_delete=spec.auto_delete)))
        self._declared.add(('exchange', spec.name))

    def queue(self, channel: Any, spec: QueueSpec, once: bool = False) -> None:
        """Declare ``spec``, its exchanges and bindings.

        :param once: skip it when done on this channel already (publishers
            declaring a notification queue); consumers always declare.
        :raises DeclareAgain: the next try declares otherwise (see above).
        :raises QueueRefused: the broker refuses the declaration for good.
        """
        if once and ('queue', spec.name) in self._declared:
            return
        try:
            if spec.name in self._as_found:
                self._declare_as_found(channel, spec.name)
            else:
                self._declare_private_or_shared(channel, spec)
            for exchange, key in spec.bindings:
                self.exchange(channel, exchange)
                channel.queue_bind(spec.name, exchange.name, key)
        except (amqp_exc.AMQPError, OSError) as ex:
            if is_refusal(ex):
                raise QueueRefused(describe(spec), ex) from ex
            raise
        self._declared.add(('queue', spec.name))

    def _declare_private_or_shared(self, channel: Any, spec: QueueSpec) -> None:
        """Declare ``spec`` as configured, or a private queue durable where
        the broker denies transient ones (see the class docstring)."""
        can_be_durable = spec.private and 'x-expires' in spec.arguments
        durable = spec.durable or (can_be_durable and self._transient_denied)
        try:
            self._with_fallback('queue', spec.name, durable, lambda durable: (
                channel.queue_declare(spec.name, durable=durable, auto_delete=spec.auto_delete,
                                      arguments=spec.arguments)),
                typed='x-queue-type' in spec.arguments)
        except amqp_exc.NotFound as ex:
            # A declaration (not passive) answered 404: the queue exists
            # but the broker cannot serve it (its node is down).
            if not spec.private:
                raise
            raise PrivateQueueUnavailable(spec.name, ex) from ex
        except amqp_exc.InternalError as ex:
            if durable or not can_be_durable or not is_transient_denied(ex):
                raise
            self._transient_denied = True
            LOG.warning('The broker %s denies transient non-exclusive queues '
                        '(transient_nonexcl_queues): this process\'s own reply and fanout '
                        'queues, %s first, are declared durable instead; they expire %d s '
                        'after their last use. Set rabbit_transient_quorum_queue = true to '
                        'have them replicated', self._host(), spec.name,
                        spec.arguments['x-expires'] // 1000)
            raise DeclareAgain('queue', spec.name) from ex

    def _declare_as_found(self, channel: Any, name: str) -> None:
        try:
            channel.queue_declare(name, passive=True)
        except amqp_exc.NotFound as ex:
            self._as_found.discard(name)
            LOG.info('Queue %s is gone from %s; declaring it as configured', name,
                     self._host())
            raise DeclareAgain('queue', name) from ex

    def _with_fallback(self, kind: str, name: str, durable: bool,
                       declare: Callable[[bool], Any], typed: bool = False) -> None:
        """``declare(durable)``, or otherwise when the broker has it otherwise.

        :param typed: the queue is declared with a type (quorum, stream),
            which cannot be non-durable: found non-durable, it is of
            another type.
        :raises DeclareAgain: on a refusal that the next try meets by
            declaring otherwise (the broker closed this channel).
        """
        durable = durable and (kind, name) not in self._non_durable
        try:
            declare(durable)
        except amqp_exc.PreconditionFailed as ex:
            if durable and is_durable_mismatch(ex) and not typed:
                self._non_durable.add((kind, name))
                LOG.warning('The %s %s exists non-durable on %s while we declare it '
                            'durable (amqp_durable_queues); using it non-durable. Its '
                            'messages do not survive a broker restart: delete it once '
                            'every peer declares it durable', kind, name, self._host())
            elif kind == 'queue' and (is_other_shape(ex)
                                      or (typed and is_durable_mismatch(ex))):
                self._as_found.add(name)
                LOG.warning('The queue %s exists on %s as another type or durability than '
                            'the [oslo_messaging_rabbit] options ask (%s); consuming it as it '
                            'is. This is expected while services change rabbit_quorum_queue '
                            'or amqp_durable_queues one at a time: once every service has '
                            'the new setting, retire the queue ("messaging retire-queue '
                            'NAME": unbound, emptied, deleted) and it is declared anew as '
                            'configured',
                            name, self._host(), ex)
            else:
                raise
            raise DeclareAgain(kind, name) from ex


def is_transient_denied(ex: Exception) -> bool:
    """Whether the broker refused a queue for being transient and
    non-exclusive (RabbitMQ 4's ``transient_nonexcl_queues`` denied)."""
    return 'transient_nonexcl_queues' in str(ex)


def is_other_shape(ex: Exception) -> bool:
    """Whether a queue's declaration was refused because the queue exists
    as another type, or durable where we asked non-durable (a quorum queue
    is always durable): what a fleet changing queue type meets."""
    words = str(ex)
    return ("inequivalent arg 'x-queue-type'" in words
            or ("inequivalent arg 'durable'" in words and "current is 'true'" in words))


def describe(spec: QueueSpec) -> str:
    """``spec`` as a log line names it: name, flags and arguments."""
    return '%s (durable %s, auto-delete %s, arguments %s)' % (
        spec.name, spec.durable, spec.auto_delete, spec.arguments or '{}')
