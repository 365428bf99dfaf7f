"""Notifications: e-mail over SMTP and signed webhooks, delivered off the request path."""
