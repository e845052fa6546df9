"""Workflows: the rules of a kind of post over time (a ticket's lifecycle), on top of ``publisher.service``."""
