"""The endpoint of the README's ``messaging serve`` example.

    PYTHONPATH=examples messaging serve calculator:Calculator --topic compute --server host1 --ping

serves ``add`` on topic ``compute``; ``messaging call compute add --arg a=1
--arg b=2`` then prints 3.
"""


class Calculator:
    """An RPC endpoint: every public method can be called by name."""

    def add(self, ctxt, a, b):
        """The sum of ``a`` and ``b`` (``ctxt`` is the caller's context)."""
        return a + b
