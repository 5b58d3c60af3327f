"""Language-model providers behind one interface (Anthropic, Ollama, scripted)."""
