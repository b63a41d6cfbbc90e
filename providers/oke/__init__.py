"""Oracle Container Engine for Kubernetes (OKE): the adapter (``adapter.OkeProvider``) and a local emulator."""
