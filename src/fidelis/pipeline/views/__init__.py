"""Pipeline views: `opportunities` (the board, the list, the opportunity pages, the 360° panel), `contracts`,
`reports` (the pipeline report) and `stages` (pipelines and their stages). Each module owns its url patterns."""
