"""The tabletop-exercise scenarios (TOML), next to the runbooks they draw from. Installed as
package data ``cockpit.runbooks.builtin.exercises``; ``cockpit exercise scenarios`` lists
them. This file only makes the folder a package."""
