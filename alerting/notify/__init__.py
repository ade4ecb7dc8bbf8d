"""Notification pipeline stages: inhibition, time intervals, silences, dedup, retry."""
