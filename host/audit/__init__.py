"""The tamper-evident, write-ahead audit log."""
