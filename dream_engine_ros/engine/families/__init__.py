"""Model families: one folder each, registered by name (`engine.registry.FAMILIES`)."""
