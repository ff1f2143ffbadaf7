"""Fixtures of the documentation tests: the docs' own extension modules on
sys.path, and one HTML build of the docs shared by the tests that read it."""
import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOC_SOURCE = os.path.join(REPO, 'doc', 'source')
EXTENSIONS = os.path.join(DOC_SOURCE, '_ext')
BUILD_TIMEOUT = 300


@pytest.fixture
def surface(monkeypatch):
    """The migration table's comparison module (doc/source/_ext)."""
    monkeypatch.syspath_prepend(EXTENSIONS)
    import migration_surface
    return migration_surface


@pytest.fixture(scope='session')
def built_html(tmp_path_factory):
    """The docs built as HTML with warnings as errors, as CI builds them."""
    pytest.importorskip('sphinx', reason='sphinx is not installed (the docs extra)')
    out = tmp_path_factory.mktemp('html')
    done = subprocess.run(
        [sys.executable, '-m', 'sphinx', '-W', '--keep-going', '-q', '-b', 'html',
         DOC_SOURCE, str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=BUILD_TIMEOUT, check=False)
    assert done.returncode == 0, 'the docs build failed:\n%s' % done.stderr
    return out
