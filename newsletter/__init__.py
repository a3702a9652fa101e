"""newsletter: Markdown research issues to responsive email, sent exactly once."""

__version__ = "0.1.0"
