"""``python -m gan_latent_lab``: the command line in cli.py."""

import sys

from .cli import main

sys.exit(main())
