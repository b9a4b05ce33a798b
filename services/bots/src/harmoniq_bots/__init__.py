"""Harmoniq bots service: incoming webhooks (and, later, bots installed in servers)."""
