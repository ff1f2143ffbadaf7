"""Remote procedure calls: clients, servers, the dispatcher and their errors."""
from messaging.rpc.client import *  # noqa: F401,F403
from messaging.rpc.dispatcher import *  # noqa: F401,F403
from messaging.rpc.server import *  # noqa: F401,F403
from messaging.rpc.transport import *  # noqa: F401,F403
from messaging.rpc import client as _client
from messaging.rpc import dispatcher as _dispatcher
from messaging.rpc import server as _server
from messaging.rpc import transport as _transport

__all__ = _client.__all__ + _dispatcher.__all__ + _server.__all__ + _transport.__all__
