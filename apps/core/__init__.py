"""Ring 0: the plumbing every app shares. A plain package (no models, not an installed app) that
imports only Django, Celery and redis, never an app of this project."""
