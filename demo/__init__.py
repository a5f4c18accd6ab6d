"""``make demo``: a whole morning in one command (dashboard, enrolled sample people, the agent on a clip)."""
