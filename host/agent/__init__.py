"""The agent: sessions and memory, slash commands, prompts and the tool-calling loop."""
