"""The ``routing`` notification driver: sends each notification on to other
drivers chosen by its event type and priority.

The YAML file named by ``[oslo_messaging_notifications] routing_config``
maps group names to ``{driver name: rules}``; rules may hold
``accepted_events`` and ``accepted_priorities``, lists of fnmatch patterns
(priorities compared in lowercase). A driver receives a notification when
every rule it has matches; a driver with no rules receives everything. The
groups only organise the file: a driver named in several groups receives a
notification once if any group accepts it. See
``etc/routing_notifier.yaml.sample``.
"""
from __future__ import annotations

import fnmatch
from typing import Any, Optional

import yaml

from messaging import exceptions
from messaging import options
from messaging.notify import notifier
from messaging import log_names

LOG = log_names.get_logger(__name__)

_RULE_KEYS = ('accepted_events', 'accepted_priorities')


class RoutingConfigError(exceptions.MessagingException):
    """The routing file cannot be read or does not have the expected shape."""

    def __init__(self, filename: str, problem: str) -> None:
        super().__init__('Notification routing file %s: %s' % (filename, problem))
        self.filename = filename


def load_routing_config(filename: str) -> dict[str, dict[str, dict[str, list[str]]]]:
    """Read and check a routing file: ``{group: {driver: {rule: [patterns]}}}``.

    :raises RoutingConfigError: naming the file and what is wrong in it.
    """
    try:
        with open(filename) as stream:
            groups = yaml.safe_load(stream)
    except OSError as ex:
        raise RoutingConfigError(filename, 'cannot be read (%s)' % ex.strerror)
    except yaml.YAMLError as ex:
        raise RoutingConfigError(filename, 'is not valid YAML (%s)' % ex)
    if groups is None:
        return {}
    if not isinstance(groups, dict):
        raise RoutingConfigError(filename, 'must map group names to drivers, not be a %s'
                                 % type(groups).__name__)
    checked: dict[str, dict[str, dict[str, list[str]]]] = {}
    for group, drivers in groups.items():
        if not isinstance(drivers, dict):
            raise RoutingConfigError(filename, 'group %r must map driver names to rules'
                                     % group)
        checked[group] = {}
        for driver, rules in drivers.items():
            checked[group][driver] = _check_rules(filename, group, driver, rules or {})
    return checked


def _check_rules(filename: str, group: Any, driver: Any, rules: Any) -> dict[str, list[str]]:
    where = 'group %r, driver %r' % (group, driver)
    if not isinstance(rules, dict):
        raise RoutingConfigError(filename, '%s: rules must be a mapping' % where)
    for key, patterns in rules.items():
        if key not in _RULE_KEYS:
            raise RoutingConfigError(filename, '%s: unknown rule %r (expected one of %s)'
                                     % (where, key, ', '.join(_RULE_KEYS)))
        if (not isinstance(patterns, list)
                or not all(isinstance(p, str) for p in patterns)):
            raise RoutingConfigError(filename, '%s: %s must be a list of strings'
                                     % (where, key))
    return rules


def _accepts(rules: dict[str, list[str]], event_type: str, priority: str) -> bool:
    events = rules.get('accepted_events')
    if events is not None and not any(fnmatch.fnmatch(event_type, p) for p in events):
        return False
    priorities = rules.get('accepted_priorities')
    return priorities is None or any(fnmatch.fnmatch(priority, p.lower())
                                     for p in priorities)


class RoutingDriver(notifier.Driver):
    """Forwards notifications to the drivers the routing file selects.

    The file is read when the driver is built, so a malformed file is
    reported at start-up rather than on the first notification.
    """

    def __init__(self, conf, topics: list[str], transport) -> None:
        super().__init__(conf, topics, transport)
        filename = conf[options.NOTIFICATIONS_GROUP].routing_config
        if not filename:
            LOG.warning('The routing notification driver is enabled but '
                        '[%s] routing_config is not set: nothing will be sent',
                        options.NOTIFICATIONS_GROUP)
            self.routing_groups: dict = {}
        else:
            self.routing_groups = load_routing_config(filename)
        self._drivers = self._load_drivers(
            {name for drivers in self.routing_groups.values() for name in drivers})

    def _load_drivers(self, names: set[str]) -> dict[str, notifier.Driver]:
        # Routing to itself would recurse forever.
        names.discard('routing')
        return {ext.name: ext.obj for ext in notifier.load_drivers(
            self.conf, sorted(names), self.topics, self.transport)}

    def drivers_for(self, event_type: str, priority: str) -> list[str]:
        """The names of the drivers a notification is routed to, sorted."""
        level = priority.lower()
        return sorted({name for drivers in self.routing_groups.values()
                       for name, rules in drivers.items()
                       if name in self._drivers and _accepts(rules, event_type, level)})

    def notify(self, ctxt: dict, message: dict, priority: str,
               retry: Optional[int]) -> bool:
        """Send to each selected driver; False if any of them failed."""
        delivered = True
        for name in self.drivers_for(message['event_type'], priority):
            LOG.debug('Routing notification %s (event %s) to driver "%s"',
                      message.get('message_id'), message['event_type'], name)
            try:
                delivered = self._drivers[name].notify(ctxt, message, priority,
                                                       retry) is not False and delivered
            except Exception as ex:
                delivered = False
                LOG.exception('Routed driver "%s" failed to send notification %s: %s',
                              name, message.get('message_id'), ex)
        return delivered
