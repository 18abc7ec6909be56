"""Private helpers shared by the subpackages of keras-mr (not public API)."""
