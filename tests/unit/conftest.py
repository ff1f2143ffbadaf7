"""Fixtures shared by the unit tests."""
import pytest
from oslo_config import cfg

from messaging.notify import _impl_test
from tests.unit.rabbit_fakes import linked


@pytest.fixture
def conf():
    """A private, parsed ConfigOpts, so no test touches the global CONF."""
    conf = cfg.ConfigOpts()
    conf([])
    return conf


@pytest.fixture
def collected():
    """What the ``test`` notification driver collects during the test."""
    _impl_test.reset()
    yield _impl_test.NOTIFICATIONS
    _impl_test.reset()


@pytest.fixture
def fake_link():
    """A rabbit ``Link`` over a fake kombu connection (rabbit_fakes.py),
    closed after the test."""
    link, _kombu = linked()
    yield link
    link.close()
