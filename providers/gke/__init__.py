"""Google Kubernetes Engine: the adapter (``GkeProvider``) and a local REST emulator (``GkeEmulator``)."""
