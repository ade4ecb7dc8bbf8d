"""Routing tree and aggregation groups: which receivers an alert reaches and how it is grouped."""
