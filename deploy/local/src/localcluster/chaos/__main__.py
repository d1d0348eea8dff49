import sys

from localcluster.chaos.run import main

sys.exit(main())
