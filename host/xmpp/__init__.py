"""The XMPP edge: connection (component or client), access checks, rate limits, rooms, IQs."""
