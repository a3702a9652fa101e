"""Subscriber files: reading imports (CSV dialects) and writing exports and rejected rows."""
