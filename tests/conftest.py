"""Fixtures shared by every test suite."""
import importlib

import pytest

from messaging import wire


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
