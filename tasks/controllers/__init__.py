"""Scripted reference controllers. Each sees only observations, never simulator state."""
