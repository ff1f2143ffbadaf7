import sys

from messaging.bench.cli import main

sys.exit(main())
