"""Pure model of the reports read model: per-case facts, figures, the anonymiser."""
