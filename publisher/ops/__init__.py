"""Operating publisher: heartbeats (who is alive), health (is it working), metrics (Prometheus), the Redis
connection they share (``publisher.ops.redisconn``)."""
