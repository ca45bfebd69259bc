import sys

from data_access.cli import main

if __name__ == "__main__":
    sys.exit(main())
