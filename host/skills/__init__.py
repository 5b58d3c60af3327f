"""Skills: manifests, the registry of built skills, and the host-call broker."""
