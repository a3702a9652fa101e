"""Mail provider adapters behind one batch-first interface (see base.py)."""
