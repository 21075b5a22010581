"""The product's defaults: the spec every surface (CLI, node, HTTP, demos) runs when none is named."""

DEFAULT_SPEC = "pusht-structured"
