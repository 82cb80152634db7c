"""Hostile submissions for the sandboxed grader: cell lists and a notebook builder (see ``cells.py``)."""
