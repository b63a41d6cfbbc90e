"""kops provider: drives the ``kops`` CLI and reads its S3 state store (see adapter.py, emulator.py)."""
