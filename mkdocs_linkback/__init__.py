"""MkDocs adapter of linkback: enable it with ``- linkback`` under ``plugins:`` in mkdocs.yml."""
