"""Operating publisher: heartbeats (who is alive), health (is it working), metrics (Prometheus), the Redis
connection they share (``publisher.ops.redisconn``); and views for operators: the calendar of what will be
published, the status of the store (read-only)."""
