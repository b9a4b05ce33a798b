"""Harmoniq voice service: voice states, signalling checks, TURN credentials."""
