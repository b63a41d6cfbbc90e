"""Cluster API provider (type ``capi``): adapter.py (CapiProvider, the official kubernetes client) and
emulator.py (CapiEmulator, an emulated management cluster with simulated CAPI controllers)."""
