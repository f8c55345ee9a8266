import sys
from pathlib import Path

# The recipes' shared helper (recipe_support.py) is a plain module in this folder.
sys.path.insert(0, str(Path(__file__).parent))
