"""NotificationFilter: lets an endpoint see only the notifications it wants.

An endpoint sets ``filter_rule = NotificationFilter(...)``; the dispatcher
skips that endpoint for notifications the filter does not match.
"""
from __future__ import annotations

import re
from typing import Any, Optional

__all__ = ['NotificationFilter']


class NotificationFilter:
    """Matches notifications against regular expressions.

    Each given value is a regular expression applied with ``re.match``, so it
    is anchored at the start of the value but not at its end (add ``$`` for
    a whole-value match). ``context``, ``metadata`` and ``payload`` are dicts
    of expressions keyed like the notification's dicts, nested as deep as
    needed. A notification matches when every expression matches. For each
    expression, the notification does **not** match when:

    * the key is missing from the notification's dict;
    * the value found is not a string (a number, None, a list...), since a
      regular expression only applies to text;
    * a nested dict of expressions meets a value that is not a dict.

    Filters given as None (the default) accept anything. A context object
    (not a dict) is compared through its ``to_dict()``.
    """

    def __init__(self, context: Optional[dict] = None, publisher_id: Optional[str] = None,
                 event_type: Optional[str] = None, metadata: Optional[dict] = None,
                 payload: Optional[dict] = None) -> None:
        self._publisher_id = _compile(publisher_id)
        self._event_type = _compile(event_type)
        self._context = _compile(context)
        self._metadata = _compile(metadata)
        self._payload = _compile(payload)

    def match(self, context: Any, publisher_id: Any, event_type: Any,
              metadata: Any, payload: Any) -> bool:
        """Whether a notification passes this filter."""
        if context is not None and not isinstance(context, dict) and hasattr(context, 'to_dict'):
            context = context.to_dict()
        return all(_matches(value, rule) for value, rule in (
            (publisher_id, self._publisher_id), (event_type, self._event_type),
            (context, self._context), (metadata, self._metadata),
            (payload, self._payload)))


def _compile(rule: Any) -> Any:
    """Regex patterns compiled, keeping the shape of nested dicts."""
    if rule is None:
        return None
    if isinstance(rule, dict):
        return {key: _compile(value) for key, value in rule.items()}
    return re.compile(rule)


def _matches(value: Any, rule: Any) -> bool:
    if rule is None:
        return True
    if isinstance(rule, dict):
        return isinstance(value, dict) and all(
            key in value and _matches(value[key], sub) for key, sub in rule.items())
    return isinstance(value, str) and rule.match(value) is not None
