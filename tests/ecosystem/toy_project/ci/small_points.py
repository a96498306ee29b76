"""pre_experiment file: make the toy dataset small."""

import os

os.environ["TOYXP_POINTS"] = "30"
