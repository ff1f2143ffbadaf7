"""messaging: RPC and notifications over RabbitMQ, a drop-in for oslo.messaging.

``import messaging as oslo_messaging`` gives a service the same public names.
"""
from messaging.exceptions import *  # noqa: F401,F403
from messaging.notify import *  # noqa: F401,F403
from messaging.rpc import *  # noqa: F401,F403
from messaging.serializer import *  # noqa: F401,F403
from messaging.server import *  # noqa: F401,F403
from messaging.target import *  # noqa: F401,F403
from messaging.transport import *  # noqa: F401,F403
