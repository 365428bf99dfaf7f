"""``python -m services.processor worker``: register every building block on the app, run faust."""

from services.processor import agents, tables, timers, topics, web  # noqa: F401  (decorators register them)
from services.processor.app import app

if __name__ == "__main__":
    app.main()
