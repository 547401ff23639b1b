"""`python -m slakit.exporters.elasticsearch`."""

import sys

from slakit.exporters.elasticsearch import main

sys.exit(main())
