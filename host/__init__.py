"""Airlock: the long-running host (XMPP, agent loop, policy, audit) and its command line."""

__version__ = "0.1.0"
