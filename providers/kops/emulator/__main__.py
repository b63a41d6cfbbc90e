"""``python -m providers.kops.emulator <kops args>`` runs the emulated kops CLI directly."""

import sys

from providers.kops.emulator.cli import main

if __name__ == "__main__":
    sys.exit(main())
