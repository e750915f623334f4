"""Deep Learning at Scale."""
