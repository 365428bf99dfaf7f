"""MongoDB repositories of the reports read model."""
