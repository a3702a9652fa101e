"""Fake provider servers for tests, benchmarks and end-to-end runs (127.0.0.1 only).

``server.py`` is the reusable machinery (routes, request recording, scripted and random faults);
one module per provider builds on it (``postmark.py``). pytest puts ``tests/`` on sys.path, so
tests import ``fakes.postmark``; another process runs ``python -m tests.fakes.postmark`` from the
repository root. Modules here use relative imports only, so both spellings work.
"""
