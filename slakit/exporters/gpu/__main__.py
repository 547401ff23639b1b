"""`python -m slakit.exporters.gpu`."""

import sys

from slakit.exporters.gpu import main

sys.exit(main())
