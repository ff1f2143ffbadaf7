"""``messaging.rpc.transport``: where oslo.messaging defines get_rpc_transport."""
from messaging.transport import get_rpc_transport

__all__ = ['get_rpc_transport']
