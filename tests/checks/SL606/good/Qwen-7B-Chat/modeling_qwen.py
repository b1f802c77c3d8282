# remote code (not read by stacklint)
