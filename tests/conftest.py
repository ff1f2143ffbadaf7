"""Fixtures shared by every test suite."""
import importlib

import pytest
from oslo_config import cfg

from messaging import wire
from messaging.drivers.rabbit import options as rabbit_options
from tests import frame_engine


def pytest_configure(config):
    """Every transport of the run uses the frame engine the environment
    names (tests/frame_engine.py)."""
    cfg.set_defaults(rabbit_options.rabbit_opts, rabbit_frame_engine=frame_engine.NAME)


def pytest_report_header(config):
    return 'rabbit frame engine: %s (%s)' % (frame_engine.NAME, frame_engine.VARIABLE)


@pytest.fixture
def imports(monkeypatch):
    """Every module name failure deserialization asks importlib for."""
    asked = []
    real = importlib.import_module

    def spy(name, package=None):
        asked.append(name)
        return real(name, package)

    monkeypatch.setattr(wire.importlib, 'import_module', spy)
    return asked
