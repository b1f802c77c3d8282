"""stacklint's rules, one module per family (listed in ``stacklint.registry.FAMILIES``)."""
