"""Feeds: fetching (fetch.py) and parsing with autodiscovery (parse.py); the workflow is publisher.workflows.feeds."""
