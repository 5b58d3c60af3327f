"""The one exception tree of Airlock.

Every error Airlock raises on purpose derives from :class:`AirlockError`. Each carries a message
written for people (what is wrong) and, where there is one, a ``hint`` (how to fix it). Only the
edges (the CLI and the XMPP handlers) turn these into exit codes or replies; internal details
never reach a chat.

::

    AirlockError
    ├── ConfigError          a deployer's configuration is wrong (names the key and the fix)
    ├── SandboxError         the sandbox could not run a module (not the module's own failure)
    │   ├── ModuleError      the module file is missing, unreadable, or its digest does not match
    │   └── HardeningError   a kernel layer the run requires is not available on this machine
    ├── RequestError         a capability request is invalid (unknown skill, bad arguments)
    ├── PolicyError          a policy file is wrong (names the file, the line and the fix)
    ├── AuditError           the audit log cannot be written, or fails verification
    ├── SkillError           a skill manifest, build or signature problem
    ├── BrokerError          a host call a module made was refused or failed
    ├── ConfirmError         a confirmation cannot be asked, answered or found
    ├── LlmError             a model provider failed after its retries
    └── XmppError            the XMPP connection failed or a stanza was refused
"""

from __future__ import annotations

__all__ = [
    "AirlockError",
    "AuditError",
    "BrokerError",
    "ConfigError",
    "ConfirmError",
    "HardeningError",
    "LlmError",
    "ModuleError",
    "PolicyError",
    "RequestError",
    "SandboxError",
    "SkillError",
    "XmppError",
]


class AirlockError(Exception):
    """Root of every error Airlock raises on purpose.

    ``message`` says what is wrong, ``hint`` (optional) says how to fix it. ``str()`` joins them so
    that printing the error to a person is always enough.
    """

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message} ({self.hint})"
        return self.message


class ConfigError(AirlockError):
    """A deployer's configuration file or option is wrong."""


class SandboxError(AirlockError):
    """The sandbox could not run a module; the module itself did not get to fail."""


class ModuleError(SandboxError):
    """The module file is missing, unreadable, or does not match its expected digest."""


class HardeningError(SandboxError):
    """A kernel layer that the run requires is not available, so the run is refused."""


class RequestError(AirlockError):
    """A capability request is invalid: unknown skill, unknown field, arguments off-schema."""


class PolicyError(AirlockError):
    """A policy file is wrong, or a policy decision could not be made."""


class AuditError(AirlockError):
    """The audit log cannot be written (so nothing may act) or fails verification."""


class SkillError(AirlockError):
    """A skill manifest, build, digest or signature problem."""


class BrokerError(AirlockError):
    """A host call made by a module was refused by its grant or failed."""


class ConfirmError(AirlockError):
    """A confirmation cannot be asked, answered or found."""


class LlmError(AirlockError):
    """A language-model provider failed after its retries."""


class XmppError(AirlockError):
    """The XMPP connection failed or a stanza was refused."""
