"""Questionnaire template admin: filled in by the assessments work."""
