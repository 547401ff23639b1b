"""Write the example datasets under scenarios/data/ from slakit's corpus, one per format
`prompt: {source: dataset}` reads; the same bytes on every run (a test checks the shipped
files are these). No data set is downloaded: the passages are the standard library's
docstrings (`slakit.stack.corpus`).

    python scripts/make_datasets.py [--out scenarios/data]
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import random
from pathlib import Path

from slakit.stack.corpus import passages

ROWS = 40
SEED = 12
SYSTEM = "You answer questions about the Python standard library, briefly."
FILES = {
    "sharegpt": "corpus-sharegpt.json",
    "openai": "corpus-openai-chat.jsonl",
    "jsonl": "corpus-prompts.jsonl",
    "csv": "corpus-prompts.csv",
}
"""Format -> file name under scenarios/data/."""


def _pairs() -> list[tuple[str, str, int]]:
    """(question, answer, output tokens) from consecutive corpus passages, seeded."""
    texts = [p.text for p in passages()]
    rng = random.Random(SEED)
    starts = rng.sample(range(len(texts) - 1), ROWS)
    return [(texts[i], texts[i + 1], rng.randint(8, 64)) for i in starts]


def contents() -> dict[str, str]:
    """File name -> text of every example dataset."""
    pairs = _pairs()
    sharegpt = [
        {
            "id": f"corpus-{n}",
            "conversations": ([{"from": "system", "value": SYSTEM}] if n % 4 == 0 else [])
            + [{"from": "human", "value": question}, {"from": "gpt", "value": answer}],
        }
        for n, (question, answer, _) in enumerate(pairs)
    ]
    chat = [
        {
            "messages": [
                {"role": "system", "content": SYSTEM},
                {"role": "user", "content": question},
                {"role": "assistant", "content": answer},
            ]
        }
        for question, answer, _ in pairs
    ]
    plain = [
        {"prompt": question, **({"output_tokens": tokens} if n % 2 else {})}
        for n, (question, _, tokens) in enumerate(pairs)
    ]
    table = io.StringIO(newline="")
    writer = csv.writer(table, lineterminator="\n")
    writer.writerow(["prompt", "output_tokens"])
    writer.writerows((question, tokens) for question, _, tokens in pairs)
    return {
        FILES["sharegpt"]: json.dumps(sharegpt, indent=1) + "\n",
        FILES["openai"]: "".join(json.dumps(row) + "\n" for row in chat),
        FILES["jsonl"]: "".join(json.dumps(row) + "\n" for row in plain),
        FILES["csv"]: table.getvalue(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("scenarios/data"))
    out = parser.parse_args().out
    out.mkdir(parents=True, exist_ok=True)
    for name, text in contents().items():
        (out / name).write_text(text)
        print(f"wrote {out / name}")


if __name__ == "__main__":
    main()
