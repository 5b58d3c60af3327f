"""The policy engine: deployers' TOML rules decide every capability request.

- :mod:`host.policy.schema`: the file format (strict models); :mod:`host.policy.loader` reads a
  directory of files into a :class:`PolicySet` (with :mod:`~host.policy.compile` and
  :mod:`~host.policy.lint`), every problem a finding with file and line.
- :mod:`host.policy.engine`: :class:`PolicyEngine`, decisions with precedence, rate limits,
  reloads; :mod:`host.policy.decision`: what it answers.
- :mod:`host.policy.intersect`: the effective grant (manifest AND rule);
  :mod:`host.policy.grant`: the grant the sandbox receives.
- :mod:`host.policy.testcases`: deployers' own policy tests.

See docs/policy.md for the format and the exact precedence.
"""
