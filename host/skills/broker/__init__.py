"""The host-call broker: HTTP on a module's behalf, within its grant, with secrets injected.

See docs/skill-abi.md for the wire format and :class:`Broker` for the behaviour.
"""

from host.skills.broker.broker import Broker
from host.skills.broker.secrets import SecretsProvider, StaticSecrets

__all__ = ["Broker", "SecretsProvider", "StaticSecrets"]
