"""MongoDB repositories of the reports read model and its audit log."""
