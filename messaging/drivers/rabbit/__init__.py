"""The RabbitMQ (kombu) driver's building blocks: options, declarations,
connections, the reply waiter and listeners."""
