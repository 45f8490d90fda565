import sys

from crm_quality.cli import main

sys.exit(main())
