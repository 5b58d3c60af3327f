"""host/devtools/prosody.py: the throwaway Prosody the demo, tests and benches start."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from host.devtools.prosody import DevtoolsError, LocalProsody, prosody_installed

needs_prosody = pytest.mark.skipif(not prosody_installed(), reason="prosody is not installed")


def accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


@needs_prosody
@pytest.mark.xmpp
def test_starts_on_loopback_and_stops(tmp_path: Path) -> None:
    server = LocalProsody(
        tmp_path / "p", users={"alice": "pw-1"}, components={"agent.localhost": "s3cret"}
    )
    with server:
        assert server.running
        assert accepts(server.c2s_port)
        assert accepts(server.component_port)
        text = server.config_file.read_text()
        assert "run_as_root = true" in text
        assert 'interfaces = { "127.0.0.1" }' in text
        assert 'Component "agent.localhost"\n    component_secret = "s3cret"' in text
        assert server.ca_file.read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")
        assert server.register("bob", "pw-2") == "bob@localhost"
        assert server.users == {"alice": "pw-1", "bob": "pw-2"}
        with pytest.raises(DevtoolsError, match=r"could not register b@d@localhost"):
            server.register("b@d", "pw")
    assert not server.running
    assert not accepts(server.c2s_port)
    server.stop()  # a second stop is harmless


def test_refuses_names_that_would_break_the_configuration(tmp_path: Path) -> None:
    server = LocalProsody(tmp_path / "p", components={'x"; os.execute("id") --': "s"})
    if not prosody_installed():
        pytest.skip("prosody is not installed")
    with pytest.raises(DevtoolsError, match="cannot be written into the Prosody configuration"):
        server.start()
    assert not server.running


def test_missing_prosody_says_how_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(DevtoolsError, match="prosody is not installed") as caught:
        LocalProsody(tmp_path / "p").start()
    assert caught.value.hint == "run `make install` (it adds the prosody package)"
