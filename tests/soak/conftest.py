"""The soak test runs against the same shared broker as the functional tests,
so it uses their fixtures: a reachable broker, unique names, and cleanup of
every queue and exchange it declares."""
from tests.functional.conftest import (  # noqa: F401 -- fixtures, re-exported
    broker_cleanup,
    rabbit_transport,
    rabbit_url,
    unique_name,
)
