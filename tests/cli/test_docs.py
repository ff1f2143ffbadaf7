"""What the documentation says holds."""
from __future__ import annotations

import sys

from oslo_config import cfg

import messaging
from tests.cli.runner import REPO


def test_the_migration_note_on_transport_url_says_which_of_str_and_repr_masks():
    sys.path.insert(0, str(REPO / 'doc' / 'source' / '_ext'))
    try:
        import migration_notes
    finally:
        sys.path.pop(0)
    note = migration_notes.NOTES['oslo_messaging.transport.TransportURL']
    url = messaging.TransportURL.parse(cfg.ConfigOpts(), 'rabbit://alice:s3cret@host:5672/')
    assert 's3cret' not in repr(url) and note.startswith('repr() masks the password')
    assert 's3cret' in str(url) and 'str() gives the URL with its password' in note
