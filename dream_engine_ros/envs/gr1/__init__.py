"""DreamDojo GR-1: specs and the GR-1 action layout."""
