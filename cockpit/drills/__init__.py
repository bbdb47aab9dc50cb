"""The plan's DR testing schedule (issue 15): drills, their cadences, their runs.

Modules, one job each:

- ``schedule`` the drill kinds and their cadences (the plan's by default); last run, next due
               and overdue of each, a pure function of the runs and an injected clock
- ``store``    drill runs on disk: each run a journal of its own under ``<state>/drills/``,
               never mixed with incidents
- ``metrics``  ``drill_metrics``: backup success rate, test completion on schedule
- ``restore``  the restore drill: the ``restore-drill`` runbook run step by step through the
               runbook executor (supervisor, verify gates, journal), its figures recorded

Nothing here imports Textual.
"""
