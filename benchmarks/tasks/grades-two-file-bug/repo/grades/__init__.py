"""Course grade reports."""
