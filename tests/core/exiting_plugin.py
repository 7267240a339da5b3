"""A plugin that ends the process when imported (as a careless script does): discovery must survive it."""

import sys

sys.exit("exiting_plugin refuses to load")
