"""Customer archive views: `profile` (list, search, 360° page, edits) and `data` (import, duplicates, export, privacy)."""
