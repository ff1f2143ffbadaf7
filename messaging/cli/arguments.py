"""The ``messaging`` command's argument types: each turns a command-line
value into what the command uses, or an ``argparse.ArgumentTypeError``
that argparse reports with the option's name (``argument --timeout: ...``).
"""
from __future__ import annotations

import argparse
import json
import re
from typing import Any


def positive_seconds(text: str) -> float:
    """A number of seconds above zero (a timeout of 0 would end at once)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError('not a number of seconds: %r' % text) from None
    if not value > 0:
        raise argparse.ArgumentTypeError('must be more than 0 seconds, got %s' % text)
    return value


def retry_count(text: str) -> int:
    """A ``--retry`` value: retries after the first try; -1 for no limit."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError('not a whole number: %r' % text) from None
    if value < -1:
        raise argparse.ArgumentTypeError('must be -1 (no limit) or more, got %s' % text)
    return value


def count(text: str) -> int:
    """A whole number of things, 0 or more."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError('not a whole number: %r' % text) from None
    if value < 0:
        raise argparse.ArgumentTypeError('must be 0 or more, got %s' % text)
    return value


def regex(text: str) -> str:
    """A regular expression that compiles (kept as text, as filters take it)."""
    try:
        re.compile(text)
    except re.error as ex:
        raise argparse.ArgumentTypeError('not a valid regular expression (%s): %s'
                                         % (ex, text)) from None
    return text


def json_object(text: str) -> dict:
    """Parse a JSON object given on the command line."""
    try:
        value = json.loads(text)
    except ValueError as ex:
        raise argparse.ArgumentTypeError('not valid JSON (%s): %s' % (ex, text))
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError('expected a JSON object, got: %s' % text)
    return value


def key_value(text: str) -> tuple[str, Any]:
    """``k=v``; ``v`` is read as JSON when it parses, else kept as a string."""
    key, sep, raw = text.partition('=')
    if not sep or not key:
        raise argparse.ArgumentTypeError('expected key=value, got: %s' % text)
    try:
        return key, json.loads(raw)
    except ValueError:
        return key, raw


def readable_file(text: str) -> str:
    """A path to a file that can be read."""
    try:
        with open(text, 'rb'):
            pass
    except OSError as ex:
        raise argparse.ArgumentTypeError('cannot read %s: %s' % (text, ex.strerror)) from None
    return text

