"""Graph analysis, validation, expressions, the reference interpreter (and the ASL compiler)."""
