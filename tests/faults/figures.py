"""Figures a fault or soak test measured, for the issue's closing note.

``record('broker restart', recovery_s=1.8, calls_failed=3, casts_lost=0)``
prints one line (shown with ``pytest -s`` or in the captured output of a
failure) and, when ``MESSAGING_FAULT_FIGURES`` names a file, appends the
figures to it as one JSON object per line, so one run yields the table.
"""
from __future__ import annotations

import json
import os
import time


def record(fault: str, **figures: object) -> None:
    """Report the figures measured for ``fault``."""
    line = {'fault': fault, 'at': time.strftime('%Y-%m-%dT%H:%M:%S'), **figures}
    print('FAULT FIGURES %s' % json.dumps(line, sort_keys=True))
    path = os.environ.get('MESSAGING_FAULT_FIGURES')
    if path:
        with open(path, 'a') as f:
            f.write(json.dumps(line, sort_keys=True) + '\n')
