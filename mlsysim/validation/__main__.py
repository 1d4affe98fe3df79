"""``python -m mlsysim.validation``: print the validation tables."""
import sys

from . import main

sys.exit(main())
