"""The Qingyun service: the HTTP API, its background jobs, its database and the ``qingyun`` CLI root.

- ``api.app`` — ``create_app(settings)``, the FastAPI application and its error answers by kind.
- ``api.settings`` — the one ``Settings`` object (one ``QINGYUN_`` prefix per area), ``get_settings()``.
- ``api.deps`` — what routes share: session, job queue, settings, cached answers.
- ``api.routes`` — thin HTTP routes; ``api.services`` — what they do; ``api.jobs`` — background jobs.
- ``api.db``, ``api.tables``, ``api/alembic`` — the database, its tables and its only schema source.
- ``api.auth`` — API keys and roles; ``api.cli`` / ``api.service_cli`` — the ``qingyun`` command.

Import what you need from its module (``from api.app import create_app``).
"""
