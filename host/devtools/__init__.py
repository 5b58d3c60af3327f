"""Tools for developers, demos, tests and benches; never imported by the running service."""
