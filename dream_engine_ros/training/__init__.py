"""Training-side helpers (dataset generation, training scripts); not imported by the engine."""
