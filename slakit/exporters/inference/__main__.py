"""`python -m slakit.exporters.inference`."""

import sys

from slakit.exporters.inference import main

sys.exit(main())
