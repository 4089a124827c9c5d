"""One module per API resource; each class is a thin, typed front for the endpoint table."""
