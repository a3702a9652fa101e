"""Stages 1 and 2: an issue file to a compiled issue, and one message per recipient."""
