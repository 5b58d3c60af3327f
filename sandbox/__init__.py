"""The sandbox: a kernel-locked child process that runs one WebAssembly module per request.

The public surface is :mod:`sandbox.spec` (what a run asks for and what it returns) and
:func:`sandbox.supervisor.run` (which starts, feeds, watches and reaps the hardened child).
"""
