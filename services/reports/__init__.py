"""Reports service: justice-access figures from the event stream, and the anonymised export.

A read model (per-case facts, then aggregate cells by organisation, region, type of exploitation
and month) is kept up to date by a consumer of ``case-events``, ``legal-events`` and ``alerts``;
requests read the cells, never the cases.
"""
