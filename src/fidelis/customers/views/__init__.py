"""Customer archive views: `profile` (list, search, 360° page, edits), `imports`, `merges` (duplicates) and
`exports` (lists, a person's data, erasure)."""
