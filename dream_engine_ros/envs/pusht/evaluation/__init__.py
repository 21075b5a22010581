"""PushT evaluators that read simulator state or rendered pixels: outside every model."""
