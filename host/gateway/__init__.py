"""The capability path as the agent and the protocol see it.

:class:`PolicyGateway` (the real :class:`~host.agent.actions.ActionGateway` and
:class:`~host.agent.actions.PendingLister`) offers the skills a requester's policy could allow
and runs calls through :class:`~host.pipeline.Pipeline`; :class:`XmppConfirmer` is the
pipeline's confirmer over the confirmation service, sending prompts through a :class:`Notifier`.
"""

from __future__ import annotations

from host.gateway.confirmer import (
    ConfirmTrace,
    Notifier,
    XmppConfirmer,
    current_trace,
    summary_of,
)
from host.gateway.offer import ALL_ORIGINS, could_allow
from host.gateway.policy_gateway import Executed, PolicyGateway, model_outcome

__all__ = [
    "ALL_ORIGINS",
    "ConfirmTrace",
    "Executed",
    "Notifier",
    "PolicyGateway",
    "XmppConfirmer",
    "could_allow",
    "current_trace",
    "model_outcome",
    "summary_of",
]
