"""Serving ``messaging`` under oslo.messaging's import name, for the in-place package.

The ``oslo.messaging`` distribution in the repository's ``inplace/`` folder
ships an ``oslo_messaging`` package whose only job is to call
:func:`put_in_place`.  From then on ``oslo_messaging`` and every
``oslo_messaging.X`` *are* ``messaging`` and ``messaging.X`` (the same module
objects), so ``mock.patch('oslo_messaging.rpc.client.X')`` and ``isinstance``
checks act on this library, and a module is never loaded twice under two
names.

Installing ``messaging`` alone never calls this: only the in-place package does.
"""
from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import logging
import sys
from types import ModuleType
from typing import Optional, Sequence

LIBRARY = 'messaging'
OSLO_IMPORT_NAME = 'oslo_messaging'
# Our entry-point namespaces are oslo's with this prefix removed
# ('oslo.messaging.drivers' -> 'messaging.drivers').
OSLO_NAMESPACE_PREFIX = 'oslo.'
# oslo.messaging's modules that have another path here (under the package),
# the longest first: services import and patch names under them
# (``oslo_messaging._drivers.impl_fake``, ``_drivers.common``,
# ``_drivers.base.PollStyleListenerAdapter``, ``_drivers.impl_rabbit.rabbit_opts``).
RENAMED_MODULES = {
    '_drivers.impl_rabbit': 'drivers.rabbit.driver',
    '_drivers.amqpdriver': 'drivers.rabbit.amqpdriver',
    '_drivers.pool': 'drivers.rabbit.pool',
    '_drivers.common': 'wire',
    '_drivers': 'drivers',
}


class _AliasLoader(importlib.abc.Loader):
    """Loads an alias name by returning the already importable target module."""

    def __init__(self, target_name: str) -> None:
        self._target_name = target_name
        self._target_spec: Optional[importlib.machinery.ModuleSpec] = None

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        module = importlib.import_module(self._target_name)
        self._target_spec = module.__spec__
        return module

    def exec_module(self, module: ModuleType) -> None:
        # The import system stamps the alias's spec on the module it was
        # given; the module stays the target's, so it gets its own spec back
        # (importlib.reload and tools that read __spec__.name see the truth).
        module.__spec__ = self._target_spec


class ModuleAliasFinder(importlib.abc.MetaPathFinder):
    """Finds ``alias.X`` as the module ``target.X`` itself.

    Only submodules go through the finder: the top-level alias is put in
    ``sys.modules`` by :func:`install_alias`. ``renamed`` maps a module path
    under the alias (``'_drivers.common'``) to its path under the target
    (``'wire'``); the longest matching path wins. A name the target lacks is
    not the finder's: it answers None and the import system reports the
    missing module as usual.
    """

    def __init__(self, alias: str, target: str,
                 renamed: Optional[dict[str, str]] = None) -> None:
        self.alias = alias
        self.target = target
        self.renamed = dict(renamed or {})

    def target_name(self, fullname: str) -> Optional[str]:
        """The target module ``fullname`` stands for; None when it is not
        under the alias."""
        if not fullname.startswith(self.alias + '.'):
            return None
        path = fullname[len(self.alias) + 1:]
        for old in sorted(self.renamed, key=len, reverse=True):
            if path == old or path.startswith(old + '.'):
                path = self.renamed[old] + path[len(old):]
                break
        return '%s.%s' % (self.target, path)

    def find_spec(self, fullname: str, path: Optional[Sequence[str]] = None,
                  target: Optional[ModuleType] = None
                  ) -> Optional[importlib.machinery.ModuleSpec]:
        target_name = self.target_name(fullname)
        if target_name is None:
            return None
        try:
            target_spec = importlib.util.find_spec(target_name)
        except (ImportError, ValueError):
            # A parent the target lacks (ModuleNotFoundError), or a module
            # in sys.modules without a spec: not a name we can serve.
            return None
        if target_spec is None:
            return None
        return importlib.machinery.ModuleSpec(
            fullname, _AliasLoader(target_name),
            is_package=target_spec.submodule_search_locations is not None)

    def __repr__(self) -> str:
        return '%s(%r -> %r)' % (type(self).__name__, self.alias, self.target)


def install_alias(alias: str, target: str,
                  renamed: Optional[dict[str, str]] = None) -> ModuleType:
    """Make ``alias`` and every ``alias.X`` the modules ``target`` and ``target.X``.

    ``renamed`` maps module paths under the alias to the target's
    (``{'_drivers': 'drivers'}``); a renamed subpackage of the package itself
    is imported under its alias name at once, so that it is the package's
    attribute (``oslo_messaging._drivers``) as in the aliased library.
    Idempotent: a second call for the same alias installs nothing more.
    :returns: the target package, now also ``sys.modules[alias]``.
    """
    package = importlib.import_module(target)
    already = any(isinstance(finder, ModuleAliasFinder) and finder.alias == alias
                  for finder in sys.meta_path)
    if not already:
        # First, so that the path finder never loads a second copy of a
        # target module from the target package's __path__.
        sys.meta_path.insert(0, ModuleAliasFinder(alias, target, renamed))
    sys.modules[alias] = package
    for alias_path in renamed or {}:
        if '.' not in alias_path:
            importlib.import_module('%s.%s' % (alias, alias_path))
    return package


def put_in_place() -> ModuleType:
    """Serve ``messaging`` as ``oslo_messaging``, logging included.

    Our loggers are named ``messaging.*``; a service configures
    ``oslo_messaging`` (oslo.log's ``default_log_levels`` has
    ``oslo_messaging=INFO``, handlers may be set on it).  Making the
    ``oslo_messaging`` logger the parent of the ``messaging`` logger gives
    our records that logger's level and handlers, and root's after it, each
    once: the chain is ``messaging.X -> messaging -> oslo_messaging -> root``.
    """
    package = install_alias(OSLO_IMPORT_NAME, LIBRARY, RENAMED_MODULES)
    logging.getLogger(LIBRARY).parent = logging.getLogger(OSLO_IMPORT_NAME)
    return package


def is_in_place() -> bool:
    """True when this process's ``oslo_messaging`` is this library."""
    library = sys.modules.get(LIBRARY)
    return library is not None and sys.modules.get(OSLO_IMPORT_NAME) is library


def entry_point_namespaces(namespace: str) -> list[str]:
    """Where to look for a plugin of our ``namespace``, in order.

    In place, plugins that third parties register under oslo.messaging's
    namespace (``oslo.messaging.notify.drivers`` for ``messaging.notify.drivers``)
    are found after ours: they are written against ``oslo_messaging``, which
    is then this library.  Otherwise only ours, so a real oslo.messaging in
    the same environment never hands us its own drivers.
    """
    if is_in_place():
        return [namespace, OSLO_NAMESPACE_PREFIX + namespace]
    return [namespace]
