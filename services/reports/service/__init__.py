"""Use cases: project events, materialise cells, answer figures, export."""
