"""The tamper-evident, write-ahead audit log.

- :mod:`host.audit.sink`: the :class:`AuditSink` protocol every subsystem writes through.
- :mod:`host.audit.log`: :class:`AuditLog`, the hash-chained, fsynced, rotating implementation.
- :mod:`host.audit.record`: one record, its hash and its canonical bytes; the event names.
- :mod:`host.audit.verify`: checking a series (edits, gaps, reordering, cut ends, anchors).
- :mod:`host.audit.query`: selecting records for ``airlock audit show``.
- :mod:`host.audit.redact`, :mod:`host.audit.store`: keeping secrets and outputs out of the log.
"""

from host.audit.log import AuditLog
from host.audit.record import AuditEvent, AuditRecord
from host.audit.sink import AuditSink
from host.audit.verify import verify_series

__all__ = ["AuditEvent", "AuditLog", "AuditRecord", "AuditSink", "verify_series"]
