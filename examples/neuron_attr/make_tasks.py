"""Write two small synthetic tasks as task records: copying a letter (multiple choice) and
counting marks (completion). Usage: python make_tasks.py OUT_DIR"""

import json
import random
import string
import sys
from pathlib import Path

out = Path(sys.argv[1])
rng = random.Random(0)
with open(out / "copy.jsonl", "w") as f:
    for _ in range(24):
        letter, other = rng.sample(string.ascii_lowercase, 2)
        record = {"task": "copy", "prompt": f"Repeat the letter: {letter} ->", "choices": [f" {letter}", f" {other}"], "answer": 0}
        f.write(json.dumps(record) + "\n")
with open(out / "count.jsonl", "w") as f:
    for _ in range(24):
        n = rng.randint(1, 9)
        f.write(json.dumps({"task": "count", "prompt": f"How many marks: {'x ' * n}=", "target": f" {n}"}) + "\n")
