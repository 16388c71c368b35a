"""Text tokenisation: a tokenizer from a local folder, or a byte-level BPE trained on the training texts."""

from __future__ import annotations

import numpy as np

from engine.data_pipe.dag import TransformEnv, resolve_path
from engine.data_pipe.frame import Data, DataError


def tokenize(inputs: list[Data], params, env: TransformEnv) -> Data:
    data = inputs[0]
    if data.meta.get("input_kind") != "text":
        raise DataError("tokenize needs text: load with `text: <column>` set")
    prefix = "train/" if data.is_split else ""
    texts = {p: _texts(data.arrays[f"{p}x"], params.lowercase) for p in data.parts()}
    if params.tokenizer is not None:
        encode, vocab_size, pad_id = _from_folder(params, env)
    else:
        encode, vocab_size, pad_id = _trained(texts[prefix], params)
    arrays = dict(data.arrays)
    for p, part in texts.items():
        arrays[f"{p}x"] = encode(part)  # (N, max_length) int32, padded with pad_id
    return data.with_arrays(arrays, input_kind="tokens", vocab_size=int(vocab_size), pad_id=int(pad_id))


def _texts(array: np.ndarray, lowercase: bool) -> list[str]:
    return [t.lower() for t in array.tolist()] if lowercase else array.tolist()


def _from_folder(params, env: TransformEnv):
    from transformers import AutoTokenizer

    folder = resolve_path(params, "tokenizer", env.paths)
    if not folder.is_dir():
        raise DataError(f"tokenizer folder {folder} does not exist (relative paths start at path.model_root)")
    tok = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    if tok.pad_token_id is None:  # e.g. GPT-2 style tokenizers: pad with end-of-sequence
        tok.pad_token = tok.eos_token or tok.unk_token
    pad_id = tok.pad_token_id if tok.pad_token_id is not None else 0

    def encode(texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, params.max_length), dtype=np.int32)
        out = tok(texts, truncation=True, max_length=params.max_length, padding="max_length")
        return np.asarray(out["input_ids"], dtype=np.int32)

    return encode, len(tok), pad_id


def _trained(texts: list[str], params):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=params.vocab_size,
        special_tokens=["<pad>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer)
    tok.enable_truncation(params.max_length)
    tok.enable_padding(pad_id=0, pad_token="<pad>", length=params.max_length)

    def encode(batch: list[str]) -> np.ndarray:
        if not batch:
            return np.zeros((0, params.max_length), dtype=np.int32)
        return np.asarray([e.ids for e in tok.encode_batch(batch)], dtype=np.int32)

    return encode, tok.get_vocab_size(), 0
