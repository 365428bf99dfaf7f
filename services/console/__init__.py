"""The advocates' console: server-rendered pages over the intake, legal and alerts APIs."""
