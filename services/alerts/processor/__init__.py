"""The alerts stream processor (faust): ``python -m services.alerts.processor worker``."""
