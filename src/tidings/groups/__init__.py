"""Contact groups: dynamic segments defined by a condition, kept up to date (B11)."""
