"""``python -m mmpose_light_runtime``: the ``mmpose-light-runtime`` command.
"""
import sys

from .cli import main

sys.exit(main())
