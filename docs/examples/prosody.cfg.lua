-- The parts of /etc/prosody/prosody.cfg.lua that Airlock needs (Prosody 0.12).
-- Component mode: Airlock connects to port 5347 as agent.example.org.
component_ports = { 5347 }
component_interfaces = { "127.0.0.1" }   -- the agent runs on the same machine

Component "agent.example.org"
    component_secret = "long-random-secret"   -- the same value as AGENT_SECRET

-- Rooms (XEP-0045): let the agent see occupants' real JIDs, so per-room `allowed` lists work.
Component "conference.example.org" "muc"
    muc_room_default_public_jids = true

-- Client mode instead: create the account and keep TLS required (the default).
--   prosodyctl adduser bot@example.org
--   c2s_require_encryption = true
-- Keep mod_smacks (XEP-0198) and mod_ping enabled for reliable reconnects.
