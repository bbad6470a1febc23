"""A product catalog with search and paginated listings."""
