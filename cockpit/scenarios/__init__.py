"""The built-in scenarios (package data)."""
