"""Views for operators: the calendar of what will be published, the status of the store. Read-only."""
