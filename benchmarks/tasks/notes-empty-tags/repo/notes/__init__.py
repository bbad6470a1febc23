"""A note-taking app: notes with tags and a tag index."""
