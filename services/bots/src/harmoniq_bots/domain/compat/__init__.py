"""Payloads of other services' webhooks (Slack, GitHub) as Harmoniq executions."""
