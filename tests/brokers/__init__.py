"""Brokers other than the machine's own RabbitMQ, for running the suites on them."""
