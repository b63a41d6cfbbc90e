"""Azure Kubernetes Service: the adapter (``AksProvider``, azure-mgmt-containerservice) and an ARM emulator."""
