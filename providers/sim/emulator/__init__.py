"""The sim emulator: a SimWorld (providers/sim/world.py) behind the one emulator interface (fleet.emulator)."""
