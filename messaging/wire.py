"""The wire format: envelope, context, ids, and failures (with ``RemoteError``).

Everything here follows ../shared/WIRE.md so that oslo.messaging peers read
what we write and we read what they write.
"""
from __future__ import annotations

import importlib
import os
import random
import re
import reprlib
import traceback
import uuid
from functools import partial
from itertools import chain, compress
from operator import is_
from typing import Any, Iterable, Optional

from oslo_serialization import jsonutils

from messaging import exceptions
from messaging import log_names
from messaging._utils import version_is_compatible
from messaging.drivers.base import TransportDriverError

LOG = log_names.get_logger(__name__)

VERSION_KEY = 'oslo.version'
MESSAGE_KEY = 'oslo.message'
ENVELOPE_VERSION = '2.0'
CONTEXT_PREFIX = '_context_'
REMOTE_SUFFIX = '_Remote'
BUILTINS = 'builtins'
_OUR_PACKAGE = 'messaging'
_OSLO_PACKAGE = 'oslo_messaging'
_DOTTED_NAME = re.compile(r'[A-Za-z_]\w*(\.[A-Za-z_]\w*)*\Z', re.ASCII)
_IDENTIFIER = re.compile(r'[A-Za-z_]\w*\Z', re.ASCII)
# The deepest nesting of lists and objects a received message may have.
# OpenStack messages nest a few dozen levels at most; this keeps any code
# that walks a message recursively (loggers, serializers, the encoder of a
# reply that echoes it) far below Python's recursion limit of 1000, even
# from deep in a worker thread's stack.
MAX_DEPTH = 200
# AMQP short strings (routing keys, hence reply queue names) hold 255 bytes.
_MAX_QUEUE_NAME = 255

_IS_DICT = partial(is_, dict)
_IS_LIST = partial(is_, list)

_short = reprlib.Repr()
_short.maxstring = _short.maxother = 120
_short.maxlevel = 3


class MalformedMessage(TransportDriverError):
    """A received body is not a message this library (or oslo) would send."""


class RemoteError(exceptions.MessagingException):
    """A remote method raised an exception that could not be rebuilt locally.

    ``exc_type`` is the remote class name, ``value`` its message and
    ``traceback`` the remote traceback lines.
    """

    def __init__(self, exc_type=None, value=None, traceback=None) -> None:
        self.exc_type = exc_type
        self.value = value
        self.traceback = traceback
        msg = ('Remote error: %(exc_type)s %(value)s\n%(traceback)s.'
               % dict(exc_type=exc_type, value=value, traceback=traceback))
        super().__init__(msg)


# Its public home is the RPC client's module, as in oslo.messaging: the name
# a failure reply carries for it (``oslo_messaging.rpc.client``) and the one
# tracebacks show.
RemoteError.__module__ = 'messaging.rpc.client'


class UnsupportedEnvelope(MalformedMessage):
    """A 2.0-style envelope with a version we cannot read."""


def shorten(value: Any) -> str:
    """A short, printable ``repr`` of ``value`` for a log line or error.

    Received values are untrusted: this bounds their length and nesting
    and escapes control characters, so that they can neither flood nor
    forge log lines.
    """
    return _short.repr(value)


def check_depth(value: Any, limit: int = MAX_DEPTH) -> None:
    """Refuse lists and objects nested deeper than ``limit``, without recursion.

    Level by level, with the per-item work in C (the walk costs about as
    much as parsing the message did); call it only when
    :func:`may_nest_deeper` says the text could nest that deep.

    :raises MalformedMessage: when lists or objects nest deeper than limit.
    """
    dicts = [value] if type(value) is dict else []
    lists = [value] if type(value) is list else []
    for _ in range(limit):
        if not (dicts or lists):
            return
        children = list(chain(chain.from_iterable(map(dict.values, dicts)),
                              chain.from_iterable(lists)))
        kinds = list(map(type, children))
        dicts = list(compress(children, map(_IS_DICT, kinds)))
        lists = list(compress(children, map(_IS_LIST, kinds)))
    if dicts or lists:
        raise MalformedMessage('message nests lists and objects deeper than %d levels'
                               % limit)


def may_nest_deeper(text: str, limit: int = MAX_DEPTH) -> bool:
    """Whether JSON ``text`` holds more than ``limit`` opening brackets.

    Nesting deeper than ``limit`` needs that many, and most messages hold
    far fewer: ``str.find`` answers at memory speed where counting every
    bracket would not.
    """
    found = 0
    for bracket in '[{':
        at = text.find(bracket)
        while at >= 0:
            found += 1
            if found > limit:
                return True
            at = text.find(bracket, at + 1)
    return False


# Ids that only have to differ (deduplication, notification ids) come from
# a generator seeded by the OS, not from the OS each time: os.urandom is a
# system call, and under load a system call is where a thread waits for the
# GIL again (tens of microseconds per message). A forked child reseeds, so
# that it never repeats its parent's ids.
_ids = random.Random(os.urandom(32))
os.register_at_fork(after_in_child=lambda: _ids.seed(os.urandom(32)))


def unique_id() -> str:
    """A new 32-hex-digit id, the form oslo uses for unique ids.

    128 bits from a generator seeded by the OS: unique, not unguessable;
    for ids that correlate replies use :func:`random_id`.
    """
    return '%032x' % _ids.getrandbits(128)


def unique_uuid() -> str:
    """A new id in UUID4's text form (a notification's ``message_id``),
    from the same generator as :func:`unique_id`."""
    return str(uuid.UUID(int=_ids.getrandbits(128), version=4))


def random_id() -> str:
    """A new 32-hex-digit id from the OS's random source, as a UUID4's
    (oslo's msg ids and reply queue names): not to be guessed from others."""
    return os.urandom(16).hex()


def serialize_msg(raw_msg: dict) -> dict:
    """Wrap a message dict in the 2.0 envelope."""
    return {VERSION_KEY: ENVELOPE_VERSION, MESSAGE_KEY: jsonutils.dumps(raw_msg)}


def deserialize_msg(body: Any) -> dict:
    """Unwrap an envelope; a dict without one is returned as it is.

    :raises MalformedMessage: when the body is not a dict, or the inner
        message is not a JSON object.
    :raises UnsupportedEnvelope: for an envelope version other than 2.x.
    """
    if not isinstance(body, dict):
        raise MalformedMessage('message body is a %s, not a JSON object'
                               % type(body).__name__)
    if VERSION_KEY not in body or MESSAGE_KEY not in body:
        return body
    if not _envelope_version_supported(body[VERSION_KEY]):
        raise UnsupportedEnvelope('envelope version %s is not supported (want %s)'
                                  % (shorten(body[VERSION_KEY]), ENVELOPE_VERSION))
    inner = body[MESSAGE_KEY]
    if not isinstance(inner, str):
        raise MalformedMessage('envelope field %s is a %s, not a JSON string'
                               % (MESSAGE_KEY, type(inner).__name__))
    try:
        message = jsonutils.loads(inner)
    except (ValueError, RecursionError) as ex:
        raise MalformedMessage('envelope field %s is not valid JSON: %.200s'
                               % (MESSAGE_KEY, ex)) from None
    if not isinstance(message, dict):
        raise MalformedMessage('enveloped message is a %s, not a JSON object'
                               % type(message).__name__)
    return message


def _envelope_version_supported(version: Any) -> bool:
    # The rule oslo applies: version_is_compatible('2.0', version).
    if not isinstance(version, str) or not version:
        return False
    try:
        return version_is_compatible(ENVELOPE_VERSION, version)
    except ValueError:
        return False


def pack_context(msg: dict, ctxt: Any) -> None:
    """Flatten a context into ``_context_<key>`` entries of ``msg``.

    A dict is used as it is; any other context (an oslo.context
    ``RequestContext`` that a NoOpSerializer let through) gives its
    ``to_dict()``, as oslo does.
    """
    if ctxt is None:
        return
    entries = ctxt if isinstance(ctxt, dict) else ctxt.to_dict()
    for key, value in entries.items():
        msg[CONTEXT_PREFIX + key] = value


def unpack_context(msg: dict) -> tuple[dict, Optional[str], Optional[str]]:
    """Take the context and call fields out of a received message.

    Returns ``(ctxt, msg_id, reply_q)``; ``ctxt`` carries ``client_timeout``
    (the caller's call-monitor timeout, or None), as oslo servers provide.

    :raises MalformedMessage: ``_msg_id`` is not a string, or a call
        (``_msg_id`` set) lacks a ``_reply_q`` that can name a queue; no
        reply could be sent, so such a message must not run.
    """
    ctxt = {}
    for key in [k for k in msg if k.startswith(CONTEXT_PREFIX)]:
        ctxt[key[len(CONTEXT_PREFIX):]] = msg.pop(key)
    ctxt['client_timeout'] = msg.pop('_timeout', None)
    msg_id = msg.pop('_msg_id', None)
    reply_q = msg.pop('_reply_q', None)
    msg.pop('_unique_id', None)
    if msg_id is not None:
        if not isinstance(msg_id, str):
            raise MalformedMessage('_msg_id is a %s, not a string' % type(msg_id).__name__)
        if not (isinstance(reply_q, str) and 0 < len(reply_q.encode('utf-8', 'replace'))
                <= _MAX_QUEUE_NAME):
            raise MalformedMessage('call %s has no usable _reply_q (%s): it needs a queue '
                                   'name of 1-255 bytes' % (shorten(msg_id), shorten(reply_q)))
    return ctxt, msg_id, reply_q


def check_notification(msg: dict) -> None:
    """Refuse a notification no endpoint method could be chosen for.

    :raises MalformedMessage: ``priority`` or ``event_type`` is missing or
        not a string.
    """
    for key in ('priority', 'event_type'):
        if not isinstance(msg.get(key), str):
            raise MalformedMessage('notification %s is %s, not a string'
                                   % (key, shorten(msg.get(key))))


def _rename_package(module: str, old: str, new: str) -> str:
    """``module`` with its top-level package ``old`` renamed ``new``."""
    if module == old or module.startswith(old + '.'):
        return new + module[len(old):]
    return module


def wire_module(module: str) -> str:
    """The module name a peer knows our exception module by."""
    return _rename_package(module, _OUR_PACKAGE, _OSLO_PACKAGE)


def local_module(module: str) -> str:
    """The module of ours that stands for an oslo.messaging module name."""
    return _rename_package(module, _OSLO_PACKAGE, _OUR_PACKAGE)


def serialize_remote_exception(failure: Any) -> str:
    """The JSON string a reply's ``failure`` field carries for ``failure``:
    the exception, or a ``sys.exc_info()`` tuple holding it (oslo's form,
    which services' tests pass)."""
    if isinstance(failure, tuple):
        failure = failure[1]
    cls_name = type(failure).__name__
    module = type(failure).__module__
    if cls_name.endswith(REMOTE_SUFFIX) and module.endswith(REMOTE_SUFFIX):
        cls_name = cls_name[:-len(REMOTE_SUFFIX)]
        module = module[:-len(REMOTE_SUFFIX)]
    kwargs = getattr(failure, 'kwargs', None)
    data = {
        'class': cls_name,
        'module': wire_module(module),
        'message': str(failure),
        'tb': traceback.format_exception(type(failure), failure, failure.__traceback__),
        'args': failure.args,
        'kwargs': kwargs if isinstance(kwargs, dict) else {},
    }
    try:
        return jsonutils.dumps(data)
    except (TypeError, ValueError):
        data['args'] = [_safe_text(arg) for arg in failure.args]
        data['kwargs'] = {str(k): _safe_text(v) for k, v in data['kwargs'].items()}
        return jsonutils.dumps(data)


def _safe_text(value: Any) -> Any:
    try:
        jsonutils.dumps(value)
        return value
    except (TypeError, ValueError):
        return repr(value)


def deserialize_remote_exception(data: Any, allowed_remote_exmods: Iterable[str]
                                 ) -> Exception:
    """Rebuild the exception a peer serialized; never raises.

    Only classes from ``builtins`` or a module listed in
    ``allowed_remote_exmods`` (an oslo_messaging module counts as ours) are
    rebuilt; nothing else is ever imported. Anything else, and anything that
    fails to rebuild (a bad name, a class that is no Exception, a
    constructor that refuses the arguments), becomes ``RemoteError``.
    """
    failure = _parse_failure(data)
    trace = failure['tb']
    name, module = failure['class'], failure['module']
    if module in ('exceptions', BUILTINS):
        module = BUILTINS
    allowed = set(allowed_remote_exmods or ())
    if module != BUILTINS and module not in allowed and local_module(module) not in allowed:
        return RemoteError(name, failure['message'], trace)
    try:
        exc = _construct(local_module(module), name, failure['args'], failure['kwargs'])
        return _mark_remote(exc, module, failure['message'] + '\n' + '\n'.join(trace))
    except Exception as ex:
        LOG.warning('Could not rebuild remote exception %s.%s (%s); raising '
                    'RemoteError instead', shorten(module), shorten(name), shorten(ex))
        return RemoteError(name, failure['message'], trace)


def _parse_failure(data: Any) -> dict:
    """The failure dict with every field present and of the right type."""
    try:
        if isinstance(data, (str, bytes)):
            failure = jsonutils.loads(data)
            if may_nest_deeper(data if isinstance(data, str) else data.decode('latin-1')):
                check_depth(failure)
        else:
            failure = data
            check_depth(failure)
    except (ValueError, RecursionError, MalformedMessage):
        failure = None
    if not isinstance(failure, dict):
        failure = {'class': 'MalformedFailure', 'message': shorten(data)}
    trace = failure.get('tb')
    args = failure.get('args')
    kwargs = failure.get('kwargs')
    return {
        'class': _text(failure.get('class')) or 'UnknownError',
        'module': _text(failure.get('module')),
        'message': _text(failure.get('message')),
        'tb': [_text(line) for line in trace] if isinstance(trace, list) else [],
        'args': args if isinstance(args, list) else [],
        'kwargs': {str(k): v for k, v in kwargs.items()} if isinstance(kwargs, dict) else {},
    }


def _text(value: Any) -> str:
    """A failure field as text: a string as it is, anything else shortened."""
    if isinstance(value, str):
        return value
    return '' if value is None else shorten(value)


def _construct(module: str, name: str, args: list, kwargs: dict) -> Exception:
    if not _DOTTED_NAME.match(module) or not _IDENTIFIER.match(name):
        raise ValueError('invalid module or class name')
    klass = getattr(importlib.import_module(module), name)
    if not (isinstance(klass, type) and issubclass(klass, Exception)):
        raise TypeError('%s is not an Exception class' % name)
    exc = klass(*args, **kwargs)
    if not isinstance(exc, Exception):
        raise TypeError('%s() did not make an exception' % name)
    return exc


_remote_classes: dict[type, type] = {}


def _remote_class(klass: type, module: str) -> type:
    """A subclass of ``klass`` named ``<Class>_Remote``, cached per class."""
    remote = _remote_classes.get(klass)
    if remote is None:
        remote = type(klass.__name__ + REMOTE_SUFFIX, (klass,),
                      {'__str__': _remote_str, '__module__': module + REMOTE_SUFFIX})
        _remote_classes[klass] = remote
    return remote


def _remote_str(self: BaseException) -> str:
    return self._remote_message


def _mark_remote(exc: Exception, module: str, message: str) -> Exception:
    try:
        exc.__class__ = _remote_class(type(exc), module)
        exc._remote_message = message
    except TypeError:
        # Built-in exception types refuse a new __class__: keep the type and
        # carry the remote message and traceback in the first argument.
        exc.args = (message,) + tuple(exc.args[1:])
    return exc
