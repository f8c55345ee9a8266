import sys
from pathlib import Path

# The recipe's plugin is a plain module beside this file, not an installed package.
sys.path.insert(0, str(Path(__file__).parent))
