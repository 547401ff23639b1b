"""The tiny Llama builder: bit-identical builds, a cache that heals, vLLM-compatible shape.

Builds take a few seconds each (torch and transformers must be installed: the
`reference` extra). One build runs in a fresh interpreter through the CLI, so determinism
is checked across processes (hash seeds, thread pools), not just within one.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from slakit.stack import model

# Subprocesses run from the checkout's root, so they import this slakit even uninstalled.
ROOT = Path(model.__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("build") / "model"
    return out, model.build_model(out)


def test_build_writes_hf_files_and_a_matching_manifest(built: tuple[Path, str]) -> None:
    out, digest = built
    names = set(model.manifest(out))
    assert {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"} <= names
    assert model.MANIFEST not in names
    stored = json.loads((out / model.MANIFEST).read_text())
    assert stored == {
        "version": model.MODEL_VERSION,
        "content_hash": digest,
        "files": model.manifest(out),
    }
    assert model.content_hash(out) == digest
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]  # no staging left


def test_two_builds_in_two_processes_are_identical(built: tuple[Path, str], tmp_path: Path) -> None:
    out, digest = built
    other = tmp_path / "again"
    result = subprocess.run(
        [sys.executable, "-m", "slakit.stack.model", "--out", str(other)],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
        cwd=ROOT,
    )
    assert result.stdout.split() == [str(other), digest]
    assert model.manifest(other) == model.manifest(out)


def test_config_fits_vllm_cpu_attention(built: tuple[Path, str]) -> None:
    out, _ = built
    config = json.loads((out / "config.json").read_text())
    assert config["hidden_size"] // config["num_attention_heads"] == 64
    assert config.get("head_dim", 64) == 64
    assert config["vocab_size"] == 512
    assert config["tie_word_embeddings"] is False


def test_model_loads_generates_and_chats(built: tuple[Path, str]) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out, _ = built
    tokenizer = AutoTokenizer.from_pretrained(out)
    llm = AutoModelForCausalLM.from_pretrained(out)
    assert llm.config.head_dim == 64
    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": "How do I parse JSON?"}],
        tokenize=False,
        add_generation_prompt=True,
    )
    assert prompt.startswith("<s><|im_start|>user\n") and prompt.endswith("assistant\n")
    inputs = tokenizer("Return a list of names.", return_tensors="pt")
    assert inputs.input_ids[0, 0].item() == tokenizer.bos_token_id
    generated = llm.generate(**inputs, max_new_tokens=4, min_new_tokens=4, do_sample=False)
    assert generated.shape[1] == inputs.input_ids.shape[1] + 4


def test_ensure_model_reuses_an_intact_cache(built: tuple[Path, str], tmp_path: Path) -> None:
    out, _ = built
    cached = tmp_path / "models" / model.MODEL_VERSION
    shutil.copytree(out, cached)
    before = _mtimes(cached)
    assert model.ensure_model(tmp_path) == cached
    assert _mtimes(cached) == before


def test_ensure_model_rebuilds_a_corrupted_cache(built: tuple[Path, str], tmp_path: Path) -> None:
    out, digest = built
    cached = tmp_path / "models" / model.MODEL_VERSION
    shutil.copytree(out, cached)
    with open(cached / "model.safetensors", "r+b") as handle:
        handle.seek(-4, os.SEEK_END)
        handle.write(b"\0\0\0\0")
    assert model.ensure_model(tmp_path) == cached
    assert model.content_hash(cached) == digest


def test_ensure_model_builds_when_missing(built: tuple[Path, str], tmp_path: Path) -> None:
    _, digest = built
    path = model.ensure_model(tmp_path)
    assert path == tmp_path / "models" / model.MODEL_VERSION
    assert model.content_hash(path) == digest


def _mtimes(directory: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in directory.iterdir()}


def test_cache_hit_imports_no_torch(built: tuple[Path, str], tmp_path: Path) -> None:
    out, _ = built
    shutil.copytree(out, tmp_path / "models" / model.MODEL_VERSION)
    code = (
        "import sys; from pathlib import Path; from slakit.stack.model import ensure_model;"
        "ensure_model(Path(sys.argv[1]));"
        "print(sorted({'torch', 'transformers', 'tokenizers'} & set(sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        cwd=ROOT,
    )
    assert result.stdout.strip() == "[]"
