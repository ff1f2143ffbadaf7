"""The benchmark: ``python -m messaging.bench`` or ``messaging bench``."""
from __future__ import annotations

from typing import Optional


def main(argv: Optional[list[str]] = None, prog: str = 'python -m messaging.bench') -> int:
    """Run the benchmark (see :func:`messaging.bench.cli.main`)."""
    # Imported here, not above: a submodule run with ``python -m`` (the
    # chart) must not be imported by its package first.
    from messaging.bench import cli

    return cli.main(argv, prog)


__all__ = ['main']
