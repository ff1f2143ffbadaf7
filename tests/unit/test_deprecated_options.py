"""Option names that oslo.messaging 18.x still accepts work here, with a warning."""
import logging

import pytest
from oslo_config import cfg

from messaging import options
from messaging.drivers.rabbit import options as rabbit_options


@pytest.mark.parametrize('section, old_name, group, new_name, value', [
    ('DEFAULT', 'rpc_thread_pool_size', None, 'executor_thread_pool_size', 7),
    ('oslo_messaging_rabbit', 'kombu_reconnect_timeout', 'oslo_messaging_rabbit',
     'kombu_missing_consumer_retry_timeout', 5),
])
def test_a_deprecated_name_in_a_config_file_sets_the_option_and_warns(
        tmp_path, caplog, section, old_name, group, new_name, value):
    config = tmp_path / 'service.conf'
    config.write_text('[%s]\n%s = %s\n' % (section, old_name, value))
    conf = cfg.ConfigOpts()
    options.register_default_opts(conf)
    rabbit_options.register_opts(conf)
    conf(args=[], default_config_files=[str(config)])
    with caplog.at_level(logging.WARNING):
        found = conf[group][new_name] if group else conf[new_name]
    assert found == value
    assert any(old_name in record.getMessage() and 'deprecated' in record.getMessage()
               for record in caplog.records)
