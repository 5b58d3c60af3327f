"""``make demo``: the whole story on a local Prosody, through the real ``airlock serve``.

A user asks the agent to list the workspace, then to delete a file; the policy asks the user to
confirm; the user answers; the skill runs in the sandbox; the audit log is verified and the
request shown. :mod:`host.demo.story` tells it, :mod:`host.demo.world` builds the temporary
world, :mod:`host.demo.user` is the person's client, :mod:`host.demo.transcript` prints.
The policy and the model's scripted turns are data files in ``host/demo/data/``.
"""
