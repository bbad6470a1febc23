"""Language-model backends, prompt templates and output parsing."""
