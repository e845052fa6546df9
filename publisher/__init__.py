"""publisher: multi-channel post scheduling and publishing.

Nothing lost, nothing published twice, threads in order, on time within every platform's limits, every action audited.
"""

__version__ = "0.1.0"
