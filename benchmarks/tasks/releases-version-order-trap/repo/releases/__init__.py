"""Release notes tooling: versions and changelog ordering."""
