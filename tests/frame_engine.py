"""The frame engine a test run uses: ``MESSAGING_TEST_FRAME_ENGINE`` (``lean``,
the default, or ``stock``) becomes the default of ``[oslo_messaging_rabbit]
rabbit_frame_engine`` for every transport the tests make (tests/conftest.py)
and the engine of the unit tests' fake options (tests/unit/rabbit_fakes.py).
"""
from __future__ import annotations

import os

from messaging.drivers.rabbit.engine import ENGINES

VARIABLE = 'MESSAGING_TEST_FRAME_ENGINE'

NAME = os.environ.get(VARIABLE) or 'lean'
if NAME not in ENGINES:
    raise ValueError('%s=%s: not a frame engine (one of %s)'
                     % (VARIABLE, NAME, ', '.join(sorted(ENGINES))))
