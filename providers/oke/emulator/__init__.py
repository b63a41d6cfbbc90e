"""The oke emulator: everything here is test/demo infrastructure, never imported by the adapter."""
