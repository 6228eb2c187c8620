"""Step kinds, one module each, listed in ``registry.STEPS``."""
