import sys

from devsim.kubernetes.server import main

sys.exit(main())
