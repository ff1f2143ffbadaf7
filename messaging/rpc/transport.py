"""``get_rpc_transport`` where oslo.messaging also has it, as ``rpc.transport``."""
from messaging.transport import get_rpc_transport

__all__ = ['get_rpc_transport']
