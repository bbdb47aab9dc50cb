"""The plan's built-in runbooks (TOML). Installed as package data ``cockpit.runbooks.builtin``;
``cockpit runbooks list`` shows them. This file only makes the folder a package."""
