"""Fixtures for the same-answer tests (oslo.messaging runs in another interpreter)."""
import pytest

from tests.interop.conftest import oslo_python  # noqa: F401  (fixture)
from tests.sameanswer.harness import SameAnswer


def pytest_collection_modifyitems(items):
    # The interop conftest finds (or builds) the oslo interpreter for tests
    # marked interop; these need it too.
    for item in items:
        if 'sameanswer' in item.nodeid:
            item.add_marker(pytest.mark.interop)


@pytest.fixture(scope='module')
def same_answer(oslo_python):  # noqa: F811
    """``same_answer(code)`` runs code under both libraries, asserts equal observations."""
    runner = SameAnswer(oslo_python)
    yield runner
    runner.close()
