"""Print the N-th shell command of README.md's "Set up" section (1: the demo, 2: the test suite).

CI runs exactly these lines, so a README that drifts from what CI runs fails CI.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

readme = Path(__file__).resolve().parent.parent.joinpath("README.md").read_text(encoding="utf-8")
setup = readme.split("\n## Set up", 1)[1].split("\n## ", 1)[0]
blocks = re.findall(r"```sh\n(.*?)```", setup, re.S)
print(blocks[int(sys.argv[1]) - 1].strip())
