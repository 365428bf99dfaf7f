"""The alerts stream processor (faust): ``python -m services.processor worker``."""
