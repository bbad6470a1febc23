"""Models: the catalog, hardware detection, finding and fetching GGUF files."""
