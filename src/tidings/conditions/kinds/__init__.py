"""The condition kinds of this package, one module each (listed in ``registry.KINDS``)."""
