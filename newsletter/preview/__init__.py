"""The local preview server, its page, and headless-Chromium snapshots."""
