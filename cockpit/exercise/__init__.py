"""Tabletop exercises on the real cockpit (HSEEP/CISA shape, issue 13).

Modules, one job each:

- ``model``    the scenario as data: services, injects, outcomes, their effects over time
- ``schema``   the scenario file: services, the master scenario events list (injects, each
               with its effects, audience and expected outcomes), spare injects; every error
               named by file, line and key
- ``library``  the built-in scenarios (``runbooks/exercises/*.toml``, package data)
- ``clock``    the exercise clock, a pure function of its journaled changes
- ``store``    exercises on disk: their own journals under ``<state>/exercises/``
- ``timeline`` what an exercise shows at a scenario moment: health, injects, player entries
- ``scoring``  expected outcomes decided from the journal (met, late, missed) and marks
- ``report``   the after-action report and improvement plan (Markdown)
- ``deck``     a spreadsheet (CSV) inject list turned into a scenario file

Nothing here imports Textual; the session is ``cockpit.session.exercise``.
"""
