"""HTTP face of the Dream Engine."""
