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
        # The attribute and hook names are oslo.messaging's: services
        # subclass the filter and override the two hooks (watcher adds
        # callables and nested rules that way).
        self._regex_publisher_id = None if publisher_id is None else re.compile(publisher_id)
        self._regex_event_type = None if event_type is None else re.compile(event_type)
        self._regexs_context = self._build_regex_dict(context)
        self._regexs_metadata = self._build_regex_dict(metadata)
        self._regexs_payload = self._build_regex_dict(payload)

    def _build_regex_dict(self, regex_list: Optional[dict]) -> dict:
        """Hook: the compiled form of a dict of expressions (nested dicts kept)."""
        if regex_list is None:
            return {}
        return {key: self._build_regex_dict(value) if isinstance(value, dict)
                else re.compile(value) for key, value in regex_list.items()}

    def _check_for_mismatch(self, data: Any, regex: Any) -> bool:
        """Hook: whether ``data`` fails ``regex`` (a compiled expression, a
        dict of them, or None/empty for no rule)."""
        return bool(regex) and not _matches(data, regex)

    def match(self, context: Any, publisher_id: Any, event_type: Any,
              metadata: Any, payload: Any) -> bool:
        """Whether a notification passes this filter."""
        if context is not None and not isinstance(context, dict) and hasattr(context, 'to_dict'):
            context = context.to_dict()
        return not any(self._check_for_mismatch(value, rule) for value, rule in (
            (publisher_id, self._regex_publisher_id), (event_type, self._regex_event_type),
            (context, self._regexs_context), (metadata, self._regexs_metadata),
            (payload, self._regexs_payload)))


def _matches(value: Any, rule: Any) -> bool:
    if rule is None:
        return True
    if isinstance(rule, dict):
        return isinstance(value, dict) and all(
            key in value and _matches(value[key], sub) for key, sub in rule.items())
    return isinstance(value, str) and rule.match(value) is not None
