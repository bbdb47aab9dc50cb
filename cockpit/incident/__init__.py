"""Incidents: the vocabulary and state (``model``), the fold of a journal into that state
(``fold``), how entries read in a log (``log``), the store that writes changes to the
journal (``store``), the RTO/RPO/milestone clocks (``clocks``) and the stakeholder update
(``updates``).
"""
