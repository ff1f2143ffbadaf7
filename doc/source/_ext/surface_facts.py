"""How the migration table describes an option or a callable, one way for both
libraries: the oslo.messaging snapshot script and our docs build call these
same functions, so a difference in the table is a difference in the code and
never one in how the facts were taken.

Imports nothing but the standard library (the snapshot runs in
oslo.messaging's virtualenv, where ``messaging`` is not installed).
"""
from __future__ import annotations

import inspect
import json
import os
import socket
import sys
from typing import Any, Optional


def jsonable(value: Any) -> Any:
    """``value`` itself when JSON can hold it, else its repr."""
    try:
        json.dumps(value)
        return value
    except TypeError:
        return repr(value)


# Defaults computed from the machine or the program at import time: recorded
# as what they stand for, so the snapshot taken here matches a build elsewhere.
HOST_NAME = '<the host name>'
PROGRAM_NAME = '<the program name>'


def default_facts(default: Any) -> Any:
    """An option's default as the table compares it."""
    if default == socket.gethostname():
        return HOST_NAME
    if sys.argv and default == os.path.basename(sys.argv[0]):
        return PROGRAM_NAME
    return jsonable(default)


def option_facts(group: Optional[str], opt: Any) -> dict:
    """What a configuration file depends on for one oslo.config option."""
    group = group or 'DEFAULT'
    return {
        'group': group,
        'name': opt.name,
        'type': type(opt).__name__,
        'default': default_facts(opt.default),
        'deprecated_names': sorted(
            '%s/%s' % (old.group or group, old.name or opt.name)
            for old in opt.deprecated_opts),
        'deprecated_for_removal': bool(opt.deprecated_for_removal),
    }


def parameters(obj: Any) -> Optional[list[str]]:
    """``['name', 'name=default', '*args', '**kwargs']`` of a function, or of
    a class's constructor; None when Python cannot tell."""
    target = obj.__init__ if inspect.isclass(obj) else obj
    try:
        signature = inspect.signature(target)
    except (TypeError, ValueError):
        return None
    described = []
    for param in signature.parameters.values():
        if param.name == 'self':
            continue
        if param.default is param.empty:
            prefix = {param.VAR_POSITIONAL: '*', param.VAR_KEYWORD: '**'}.get(param.kind, '')
            described.append(prefix + param.name)
        else:
            described.append('%s=%s' % (param.name, default_text(param.default)))
    return described


def default_text(value: Any) -> str:
    """A parameter's default as source would spell it: a class by its name."""
    if inspect.isclass(value) or inspect.isfunction(value):
        return value.__name__
    return repr(value)
