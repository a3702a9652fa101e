"""Fake provider servers for tests, benchmarks and end-to-end runs (127.0.0.1 only).

``server.py`` is the reusable machinery (routes, request recording, scripted and random faults);
one module per provider builds on it (``postmark.py``). pytest puts ``tests/`` on sys.path, so
tests import ``fakes.postmark``; another process runs ``python -m fakes.postmark`` from ``tests/``
(not ``tests.fakes.postmark`` from the root: textstat's wheel installs a top-level package named
``tests`` that would shadow ours). Modules here use relative imports only.
"""
