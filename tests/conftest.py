"""Fixtures shared by every test suite."""
import importlib

import pytest

from messaging.drivers import common


@pytest.fixture
def imports(monkeypatch):
    """Every module name failure deserialization asks importlib for."""
    asked = []
    real = importlib.import_module

    def spy(name, package=None):
        asked.append(name)
        return real(name, package)

    monkeypatch.setattr(common.importlib, 'import_module', spy)
    return asked
