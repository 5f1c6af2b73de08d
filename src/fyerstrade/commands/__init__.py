"""CLI command groups. Each module exposes ``register(app)`` and imports heavy modules lazily."""
