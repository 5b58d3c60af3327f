"""A throwaway Prosody on loopback, for the demo, the tests and the benches.

::

    with LocalProsody(root, users={"alice": "pw"}, components={"agent.localhost": "s"}) as xmpp:
        xmpp.c2s_port, xmpp.component_port, xmpp.ca_file

Everything lives under ``root``: configuration, data, pid, log and a self-signed certificate
(so clients use STARTTLS and verify it with ``ca_file``). Prosody listens on 127.0.0.1 only, on
ports picked free by the kernel, and runs as root (``run_as_root``: this is a disposable
instance, never a deployment). Every ``prosodyctl`` call names the configuration with
``--config`` (so the system's own Prosody is never touched) and runs under ``timeout``. Stopping
terminates the server, then kills it after :data:`STOP_GRACE_S`; leaving the ``with`` block
stops it on any exception, Ctrl-C included.

Not for production: its certificate is self-signed and its own throttles are off.
"""

from __future__ import annotations

import datetime
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from host.errors import AirlockError

__all__ = ["DevtoolsError", "LocalProsody", "free_port", "prosody_installed", "write_certificate"]

# Prosody starts in well under a second here; a server silent this long is broken.
START_TIMEOUT_S = 15.0
# Time a terminated Prosody gets to close its streams before it is killed.
STOP_GRACE_S = 10.0
# Upper bound on one prosodyctl call (user registration); it normally takes ~0.3 s.
PROSODYCTL_TIMEOUT_S = 20
# The certificate only has to outlive one demo or test session.
CERT_VALIDITY = datetime.timedelta(days=2)


class DevtoolsError(AirlockError):
    """A development helper could not do its job (missing tool, server that will not start)."""


def prosody_installed() -> bool:
    """True when both ``prosody`` and ``prosodyctl`` are on PATH."""
    return shutil.which("prosody") is not None and shutil.which("prosodyctl") is not None


def free_port() -> int:
    """A loopback TCP port free right now (the kernel picks it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_certificate(directory: Path, domain: str) -> tuple[Path, Path]:
    """Write a self-signed key and certificate for ``domain`` and ``*.domain``; (key, cert)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, domain)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + CERT_VALIDITY)
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName(domain), x509.DNSName(f"*.{domain}")]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_path, cert_path = directory / f"{domain}.key", directory / f"{domain}.crt"
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o600)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key_path, cert_path


def _lua(value: str) -> str:
    """A Lua string literal; refuses what could break out of it (names come from callers)."""
    if any(c in value for c in '"\\\n\r') or not value.isprintable():
        raise DevtoolsError(f"{value!r} cannot be written into the Prosody configuration")
    return f'"{value}"'


class LocalProsody:
    """One disposable Prosody under ``root`` (which must be empty or absent).

    ``domain`` is the TLS virtual host where ``users`` (name to password) are registered;
    ``components`` maps XEP-0114 component domains to their secrets; ``muc`` names a MUC
    service whose rooms show real JIDs (None for none); ``plain_domain`` adds a virtual host
    without TLS (to test clients that must refuse it).
    """

    def __init__(
        self,
        root: Path,
        *,
        domain: str = "localhost",
        users: Mapping[str, str] | None = None,
        components: Mapping[str, str] | None = None,
        muc: str | None = None,
        plain_domain: str | None = None,
    ) -> None:
        self.root = root
        self.domain = domain
        self.users = dict(users or {})
        self.components = dict(components or {})
        self.muc = muc
        self.plain_domain = plain_domain
        self.c2s_port = 0
        self.component_port = 0
        self.config_file = root / "prosody.cfg.lua"
        self.log_file = root / "prosody.log"
        self.ca_file = root / "tls" / f"{domain}.crt"
        self._pid: int | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> LocalProsody:
        """Write the configuration, register the users, start Prosody and wait until both
        ports accept connections. Raises DevtoolsError (with the log's tail) on failure."""
        if not prosody_installed():
            raise DevtoolsError(
                "prosody is not installed", hint="run `make install` (it adds the prosody package)"
            )
        (self.root / "data").mkdir(parents=True)
        # Not "certs": Prosody looks there by default and would give plain_domain TLS too.
        (self.root / "tls").mkdir()
        key, cert = write_certificate(self.root / "tls", self.domain)
        self.ca_file = cert
        self.c2s_port, self.component_port = free_port(), free_port()
        self.config_file.write_text(self._config_text(key, cert))
        for user, password in self.users.items():
            self.register(user, password)
        self.log_file.touch()
        # Daemonised (-D): Prosody forks and the launcher exits, so the server is not a
        # descendant of the caller; test suites that check their runs leave no process behind
        # (tests/sandbox) must not count a session-wide Prosody as one.
        subprocess.run(
            ["prosody", "--config", str(self.config_file), "-D"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
            timeout=START_TIMEOUT_S,
        )
        self._pid = self._read_pid()
        try:
            self._wait_for_port(self.c2s_port)
            self._wait_for_port(self.component_port)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Terminate Prosody (kill it after the grace time); safe to call twice."""
        pid, self._pid = self._pid, None
        if pid is None:
            return
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                return
            deadline = time.monotonic() + STOP_GRACE_S
            while time.monotonic() < deadline:
                if not _alive(pid):
                    return
                time.sleep(0.05)

    def __enter__(self) -> LocalProsody:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        """True while the server process is alive."""
        return self._pid is not None and _alive(self._pid)

    # -- accounts ----------------------------------------------------------------------------

    def register(self, user: str, password: str, domain: str | None = None) -> str:
        """Create (or reset) an account; returns its bare JID."""
        host = domain or self.domain
        done = subprocess.run(
            [
                "timeout",
                str(PROSODYCTL_TIMEOUT_S),
                "prosodyctl",
                "--config",
                str(self.config_file),
                "register",
                user,
                host,
                password,
            ],
            capture_output=True,
            check=False,
        )
        if done.returncode != 0:
            raise DevtoolsError(
                f"prosodyctl could not register {user}@{host} (exit {done.returncode}): "
                f"{done.stderr.decode(errors='replace')[-500:]}",
                hint="a user name is one word of letters, digits, dots or dashes",
            )
        self.users[user] = password
        return f"{user}@{host}"

    def jid(self, user: str) -> str:
        """The bare JID of ``user`` on the main virtual host."""
        return f"{user}@{self.domain}"

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of Prosody's log (for error messages)."""
        try:
            text = self.log_file.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    # -- internals ---------------------------------------------------------------------------

    def _read_pid(self) -> int:
        """The daemon's pid, from the pidfile it writes once it has forked."""
        pidfile = self.root / "prosody.pid"
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            try:
                text = pidfile.read_text().strip()
            except FileNotFoundError:
                text = ""
            if text.isdigit():
                return int(text)
            time.sleep(0.05)
        raise DevtoolsError(f"prosody wrote no pidfile at start:\n{self.log_tail()}")

    def _wait_for_port(self, port: int) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if not self.running:
                raise DevtoolsError(f"prosody exited at start:\n{self.log_tail()}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        raise DevtoolsError(
            f"prosody did not listen on 127.0.0.1:{port} within {START_TIMEOUT_S:.0f} s:\n"
            f"{self.log_tail()}"
        )

    def _config_text(self, key: Path, cert: Path) -> str:
        root = self.root
        parts = [
            f"""run_as_root = true
pidfile = {_lua(f"{root}/prosody.pid")}
data_path = {_lua(f"{root}/data")}
certificates = {_lua(f"{root}/tls")}
log = {{ {{ levels = {{ min = "info" }}, to = "file", filename = {_lua(str(self.log_file))} }} }}
interfaces = {{ "127.0.0.1" }}
c2s_ports = {{ {self.c2s_port} }}
c2s_direct_tls_ports = {{ }}
component_ports = {{ {self.component_port} }}
component_interfaces = {{ "127.0.0.1" }}
s2s_ports = {{ }}
http_ports = {{ }}
https_ports = {{ }}
modules_enabled = {{ "roster", "saslauth", "tls", "disco", "ping", "version", "smacks", "posix" }}
modules_disabled = {{ "s2s", "http", "offline" }}
authentication = "internal_hashed"
storage = "internal"
c2s_require_encryption = true
allow_unencrypted_plain_auth = false
-- A throwaway server: Prosody's own throttles would only slow floods, benches and demos.
limits = {{ }}

VirtualHost {_lua(self.domain)}
    ssl = {{ key = {_lua(str(key))}, certificate = {_lua(str(cert))} }}
"""
        ]
        if self.plain_domain:
            parts.append(
                f"""-- A careless server: no STARTTLS, and it would take passwords in clear.
VirtualHost {_lua(self.plain_domain)}
    modules_disabled = {{ "tls" }}
    c2s_require_encryption = false
    allow_unencrypted_plain_auth = true
"""
            )
        if self.muc:
            parts.append(
                f"""Component {_lua(self.muc)} "muc"
    muc_room_default_public_jids = true
    muc_room_locking = false
    restrict_room_creation = false
"""
            )
        parts.extend(
            f"Component {_lua(name)}\n    component_secret = {_lua(secret)}\n"
            for name, secret in self.components.items()
        )
        return "\n".join(parts)


def _alive(pid: int) -> bool:
    """Whether ``pid`` is a live (not zombie) process."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            stat = handle.read()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2 :].split()[:1] != ["Z"]
