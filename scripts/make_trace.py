"""Write scenarios/data/synthetic-trace.jsonl: a small, seeded, synthetic request trace in
the Mooncake trace's columns, for scenarios/trace-replay.yaml.

Nothing in it was recorded: 60 requests over about 26 s, in bursts (gamma gaps of shape
0.5, mean 0.6 s), prompts of 32 to 96 tokens and outputs of 16 to 48, drawn with a fixed
seed, so running this again writes the same bytes. `python scripts/make_trace.py`.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "scenarios" / "data" / "synthetic-trace.jsonl"
ROWS = 60
MEAN_GAP_MS = 600.0
BURSTINESS = 0.5
SEED = 12


def rows() -> list[dict]:
    rng = random.Random(SEED)
    at, out = 0.0, []
    for _ in range(ROWS):
        out.append(
            {
                "timestamp": round(at),
                "input_length": rng.randint(32, 96),
                "output_length": rng.randint(16, 48),
            }
        )
        at += rng.gammavariate(BURSTINESS, MEAN_GAP_MS / BURSTINESS)
    return out


def main() -> None:
    OUT.write_text("".join(json.dumps(row) + "\n" for row in rows()))


if __name__ == "__main__":
    main()
