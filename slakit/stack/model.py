"""A tiny Llama for the embedded vLLM, built locally and bit-for-bit the same every time.

No model hub is reachable, so the model served by the reference stack is made here: a
byte-level BPE tokenizer trained on the local docstring corpus (`slakit.stack.corpus`) and
a two-layer Llama with random weights from a fixed seed. Its output is gibberish by design;
what matters is that vLLM serves it for real (batching, KV cache, streaming, /metrics) and
that every machine and every rebuild gets the same files, so results are comparable and a
cached copy can be checked against its manifest.

The heavy imports (torch, transformers, tokenizers) happen only when building, so finding
an intact cached model stays fast.

    python -m slakit.stack.model [--out DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from slakit.paths import cache_dir

if TYPE_CHECKING:
    from transformers import LlamaConfig, PreTrainedTokenizerFast

MODEL_VERSION = "tiny-llama-v4"  # bump when anything below changes the built files
MANIFEST = "slakit-manifest.json"
SEED = 1234

VOCAB_SIZE = 512
MAX_LEN = 2048  # RoPE has no learned positions: a longer context costs nothing
BOS, EOS, UNK, PAD = "<s>", "</s>", "<unk>", "<pad>"
IM_START, IM_END = "<|im_start|>", "<|im_end|>"
SPECIAL_TOKENS = [BOS, EOS, UNK, PAD, IM_START, IM_END]

# ChatML-like, so vLLM's /v1/chat/completions has a template to apply. The leading BOS is
# written by the template: vLLM tokenizes chat prompts without adding special tokens.
CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def manifest(model_dir: Path) -> dict[str, str]:
    """Relative file name -> sha256 of every file in `model_dir`, except the manifest."""
    return {
        path.relative_to(model_dir).as_posix(): _sha256(path)
        for path in sorted(model_dir.rglob("*"))
        if path.is_file() and path.name != MANIFEST
    }


def content_hash(model_dir: Path) -> str:
    """One sha256 for the whole model: over the sorted (name, file hash) pairs."""
    return _hash_of(manifest(model_dir))


def build_model(out_dir: Path) -> str:
    """Build into a staging dir beside `out_dir`, then swap it in; return the content hash.

    Readers never see a half-written model: the directory appears complete or not at all.
    """
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.build-", dir=out_dir.parent))
    try:
        staging.chmod(0o755)  # mkdtemp makes it 0700; the model dir is meant to be shared
        _write_model(staging)
        digest = _write_manifest(staging)
        _swap_in(staging, out_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # only left if the build failed
    return digest


def ensure_model(cache_dir: Path) -> Path:
    """The cached model dir, (re)built if it is missing or its files fail their manifest."""
    model_dir = Path(cache_dir) / "models" / MODEL_VERSION
    if _is_intact(model_dir):
        return model_dir
    with _lock(model_dir):  # two processes starting at once build it once
        if not _is_intact(model_dir):
            build_model(model_dir)
    return model_dir


def _stored_manifest(model_dir: Path) -> dict:
    """The manifest written at build time, or {} if it is missing or unreadable."""
    try:
        stored = json.loads((model_dir / MANIFEST).read_text())
    except (OSError, ValueError):
        return {}
    return stored if isinstance(stored, dict) else {}


def _is_intact(model_dir: Path) -> bool:
    stored = _stored_manifest(model_dir)
    return stored.get("version") == MODEL_VERSION and stored.get("files") == manifest(model_dir)


@contextlib.contextmanager
def _lock(model_dir: Path) -> Iterator[None]:
    model_dir.parent.mkdir(parents=True, exist_ok=True)
    with open(model_dir.parent / f".{model_dir.name}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _swap_in(staging: Path, out_dir: Path) -> None:
    """Rename `staging` to `out_dir`, moving an existing `out_dir` aside first."""
    if not out_dir.exists():
        os.replace(staging, out_dir)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old-", dir=out_dir.parent))
    os.replace(out_dir, old)  # onto an empty dir: allowed, and atomic
    os.replace(staging, out_dir)
    shutil.rmtree(old)


def _write_manifest(model_dir: Path) -> str:
    files = manifest(model_dir)
    digest = _hash_of(files)
    record = {"version": MODEL_VERSION, "content_hash": digest, "files": files}
    (model_dir / MANIFEST).write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    return digest


def _write_model(out: Path) -> None:
    """Tokenizer, config, seeded random weights and generation config, as HF files."""
    import torch
    from transformers import LlamaForCausalLM
    from transformers.utils import logging as hf_logging

    tokenizer = _tokenizer()
    with torch.random.fork_rng(devices=[]):  # seed locally; leave the caller's RNG alone
        torch.manual_seed(SEED)
        model = LlamaForCausalLM(_config(tokenizer)).to(torch.float32)
    hf_logging.disable_progress_bar()  # a tqdm bar would garble `stack up`'s console
    tokenizer.save_pretrained(out)
    model.save_pretrained(out, safe_serialization=True)


def _tokenizer() -> PreTrainedTokenizerFast:
    """Byte-level BPE trained on the local corpus: any text encodes, no unknown bytes."""
    # Single-threaded training: the same merges whatever the core count or scheduling.
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    from slakit.stack import corpus

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(corpus.training_text(), trainer=trainer)
    # Plain prompts (/v1/completions) start with BOS, as a Llama tokenizer's do.
    bpe.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A", special_tokens=[(BOS, bpe.token_to_id(BOS))]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        bos_token=BOS,
        eos_token=EOS,
        unk_token=UNK,
        pad_token=PAD,
        chat_template=CHAT_TEMPLATE,
        model_max_length=MAX_LEN,
    )


def _config(tokenizer: PreTrainedTokenizerFast) -> LlamaConfig:
    """Two layers of width 128; 2 heads of 64, the smallest head vLLM's CPU attention takes."""
    from transformers import LlamaConfig

    return LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=128,
        intermediate_size=256,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=MAX_LEN,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
    )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _hash_of(files: dict[str, str]) -> str:
    lines = "".join(f"{name}\0{digest}\n" for name, digest in sorted(files.items()))
    return hashlib.sha256(lines.encode()).hexdigest()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m slakit.stack.model", description="Build the tiny Llama for vLLM."
    )
    parser.add_argument(
        "--out",
        type=Path,
        help="build into DIR (always rebuilds); default: the shared cache, built if needed",
    )
    args = parser.parse_args(argv)
    if args.out:
        path, digest = args.out, build_model(args.out)
    else:
        path = ensure_model(cache_dir())
        digest = _stored_manifest(path)["content_hash"]
    print(f"{path} {digest}")


if __name__ == "__main__":
    main()
