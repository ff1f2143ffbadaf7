"""messaging: RPC and notifications over RabbitMQ, a drop-in for oslo.messaging."""
