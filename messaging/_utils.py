"""Small helpers shared across layers."""
from __future__ import annotations

from typing import Optional


def version_is_compatible(imp_version: Optional[str], version: Optional[str]) -> bool:
    """Whether an implementation of ``imp_version`` can serve ``version``.

    Compatible means the same major number and a requested minor (and, when
    the minors are equal, revision) no higher than the implementation's.
    A missing version on either side counts as ``1.0``.
    """
    def parts(value: Optional[str]) -> list[int]:
        nums = [int(p) for p in (value or '1.0').split('.')]
        return (nums + [0, 0, 0])[:3]

    imp_major, imp_minor, imp_rev = parts(imp_version)
    major, minor, rev = parts(version)
    if major != imp_major:
        return False
    if minor != imp_minor:
        return minor < imp_minor
    return rev <= imp_rev
