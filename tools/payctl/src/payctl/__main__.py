import sys

from payctl.cli import main

sys.exit(main())
