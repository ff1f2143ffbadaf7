"""The committed sample configuration matches what the options say today."""
import pathlib

from oslo_config import generator

REPO = pathlib.Path(__file__).resolve().parents[2]
GENERATOR_CONF = REPO / 'etc' / 'oslo-config-generator' / 'messaging.conf'
SAMPLE = REPO / 'etc' / 'messaging.conf.sample'


def test_committed_sample_config_is_current(tmp_path):
    fresh = tmp_path / 'messaging.conf.sample'
    generator.main(['--config-file', str(GENERATOR_CONF), '--output-file', str(fresh)])
    assert fresh.read_text() == SAMPLE.read_text(), (
        'etc/messaging.conf.sample is stale: regenerate it with "tox -e genconfig"')


def test_sample_lists_every_group_the_library_registers():
    text = SAMPLE.read_text()
    for group in ('[DEFAULT]', '[oslo_messaging_rabbit]', '[oslo_messaging_notifications]'):
        assert group in text
