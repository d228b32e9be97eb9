"""Listening tests (MUSHRA, A/B, ABX, ACR MOS): protocols, rendered stimuli, a durable SQLite store,
and statistics. `service` is the one entry point the app, its API and the CLI use."""
