"""One parser per file format; each keeps the line and column of every value."""
