"""The consumer runs' sdist cache: a source dir a run left half-extracted
(interrupted) is extracted again, never used."""
from __future__ import annotations

import io
import tarfile

from tests.consumers.consumer_suite import extract_sdist


def _sdist(path, files):
    with tarfile.open(path, 'w:gz') as archive:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo('proj-1.0/' + name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))


def test_a_half_extracted_source_dir_is_extracted_again(tmp_path):
    archive = tmp_path / 'sdist' / 'proj-1.0.tar.gz'
    archive.parent.mkdir()
    _sdist(archive, {'setup.py': 'x', 'test-requirements.txt': 'pytest\n'})
    # What an interrupted run leaves: the dir, part of its files.
    (tmp_path / 'proj-1.0').mkdir()
    (tmp_path / 'proj-1.0' / 'setup.py').write_text('x')
    source = extract_sdist(tmp_path, archive)
    assert (source / 'test-requirements.txt').read_text() == 'pytest\n'
    assert not list(tmp_path.glob('.extracting-*'))
    # Finished once, it is used as it is.
    (source / 'setup.py').write_text('kept')
    assert (extract_sdist(tmp_path, archive) / 'setup.py').read_text() == 'kept'
