"""Per-family helpers: sparse construction and validators for index-bearing types."""
