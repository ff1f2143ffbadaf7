"""The ``messaging`` command's configuration: read the files given, apply
``--transport-url``, and check every option's value before anything runs.

oslo.config reports a bad value only when the option is first read, in
words of its own internals (``LocationInfo(location=..., detail=...)``).
Checking every option here says, before any connection is tried, which
option of which file has which bad value, and what it should be.
"""
from __future__ import annotations

import argparse
from typing import Optional

from oslo_config import cfg

from messaging import options
from messaging.drivers.rabbit import options as rabbit_options


class ConfigurationError(Exception):
    """A configuration file cannot be read or holds a bad value."""


def load_config(args: argparse.Namespace) -> cfg.ConfigOpts:
    """A private ConfigOpts with the files given and the URL override applied.

    :raises ConfigurationError: naming the file, and for a bad value the
        option, its group and the value.
    """
    conf = cfg.ConfigOpts()
    try:
        conf(args=[], project='messaging', default_config_files=args.config_file)
    except cfg.Error as ex:
        raise ConfigurationError('cannot read the configuration: %s' % ex) from None
    options.register_default_opts(conf)
    options.register_notifier_opts(conf)
    rabbit_options.register_opts(conf)
    if args.transport_url:
        conf.set_override('transport_url', args.transport_url)
    check_values(conf, args.config_file)
    return conf


def check_values(conf: cfg.ConfigOpts, files: list[str]) -> None:
    """Read every registered option once, so that a bad value fails now.

    :param files: the configuration files read, in order (the last wins).

    :raises ConfigurationError: for the first option whose value is bad.
    """
    groups: list[Optional[str]] = [None] + sorted(conf.list_all_sections())
    for group in groups:
        namespace = conf if group is None else _group_or_none(conf, group)
        if namespace is None:
            continue
        for name in sorted(namespace.keys()):
            try:
                getattr(namespace, name)
            except cfg.ConfigFileValueError as ex:
                raise ConfigurationError(_describe_bad_value(files, group, name, ex)) from None


def _group_or_none(conf: cfg.ConfigOpts, group: str):
    try:
        return conf[group]
    except cfg.NoSuchOptError:
        return None


def _describe_bad_value(files: list[str], group: Optional[str], name: str,
                        ex: Exception) -> str:
    section = group or 'DEFAULT'
    path, raw = 'the configuration', None
    for candidate in reversed(files):
        raw = _raw_value(candidate, section, name)
        if raw is not None:
            path = candidate
            break
    # Said plainly when the option's type is known; else the type's own
    # complaint, which ends oslo.config's text.
    expected = _expected(section, name)
    reason = ('expected %s' % expected if expected
              else str(ex).split(' is not valid: ', 1)[-1])
    return ('option %s in [%s] of %s has a bad value%s: %s'
            % (name, section, path, '' if raw is None else ' %r' % raw, reason))


def _expected(section: str, name: str) -> Optional[str]:
    """The kind of value option ``name`` of ``section`` takes, in words."""
    from messaging import opts

    for opt_group, opt_list in opts.list_opts():
        for opt in opt_list:
            # list_opts names [DEFAULT] None, as oslo's does.
            if (opt_group or 'DEFAULT') == section and opt.dest == name:
                choices = getattr(opt.type, 'choices', None)
                if choices:
                    return 'one of %s' % ', '.join(str(choice) for choice in choices)
                kind = getattr(opt.type, 'type_name', None)
                if not kind:
                    return None
                return ('an ' if kind[0] in 'aeiou' else 'a ') + kind
    return None


def _raw_value(path: str, section: str, name: str) -> Optional[str]:
    """The text of ``name`` in ``[section]`` of the file ``path``, if found."""
    sections: dict = {}
    try:
        cfg.ConfigParser(path, sections).parse()
    except (OSError, cfg.ParseError):
        return None
    values = sections.get(section, {}).get(name)
    return values[-1] if values else None
