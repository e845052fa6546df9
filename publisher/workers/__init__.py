"""Dramatiq plumbing: the broker (Redis or embedded Valkey) and the publish actors."""
