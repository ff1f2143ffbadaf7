"""Small helpers shared across layers."""
from __future__ import annotations

import functools
from typing import Optional


def version_is_compatible(imp_version: Optional[str], version: Optional[str]) -> bool:
    """Whether an implementation of ``imp_version`` can serve ``version``.

    Compatible means the same major number and a requested minor (and, when
    the minors are equal, revision) no higher than the implementation's.
    As oslo.messaging decides it: no ``imp_version`` (no cap, no endpoint
    version) accepts everything, and no ``version`` is accepted by nothing
    else. Callers that mean "1.0" for a missing version pass "1.0".
    """
    if imp_version is None:
        return True
    if version is None:
        return False
    imp_major, imp_minor, imp_rev = _version_parts(imp_version)
    major, minor, rev = _version_parts(version)
    if major != imp_major:
        return False
    if minor != imp_minor:
        return minor < imp_minor
    return rev <= imp_rev


@functools.lru_cache(maxsize=256)
def _version_parts(value: Optional[str]) -> tuple[int, int, int]:
    """``(major, minor, revision)`` of a version string.

    Cached: every call and every dispatch compares versions, and a service
    uses only a handful of them.

    :raises ValueError: a part is not a number.
    """
    nums = [int(p) for p in (value or '1.0').split('.')]
    major, minor, rev = (nums + [0, 0, 0])[:3]
    return major, minor, rev
