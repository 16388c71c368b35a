"""A 2-layer Llama with a byte-level BPE tokenizer trained on generated text: the fast test LLM.

Nothing is downloaded: the corpus is generated from a fixed word list with a
seeded RNG, the tokenizer is trained on it with `tokenizers`, and the weights
are random (seeded). It is a real transformers Llama, so llm-compressor,
lm-eval and the server treat it exactly as they treat SmolLM2.
"""

from __future__ import annotations

import random
from pathlib import Path

SPECIALS = ["<|endoftext|>", "<|pad|>", "<|im_start|>", "<|im_end|>"]
CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
_SUBJECTS = "a man|the woman|a child|the team|a dog|she|he|they|the cook|a player|the teacher|people".split("|")
_VERBS = "walks to|picks up|throws|holds|cleans|paints|opens|climbs|cuts|pours|lifts|rides|watches|plays".split("|")
_OBJECTS = (
    "the ball|a ladder|the door|a rope|the car|a cake|the window|a bike|the fence|some water|a guitar|the roof|"
    "a bowl|the floor|a box|the tree"
).split("|")
_TAILS = (
    "in the park|on the roof|after dinner|with a friend|very slowly|in the kitchen|at the gym|before noon|"
    "near the river|and smiles|twice|on the street||"
).split("|")
_NUMBERS = "one two three four five six seven eight nine ten 12 24 36 48 100".split()


def corpus(sentences: int, seed: int = 0) -> list[str]:
    """Deterministic English-like sentences with numbers, so both word pieces and digits are learned."""
    rng = random.Random(seed)
    lines = []
    for _ in range(sentences):
        tail = rng.choice(_TAILS)
        line = f"{rng.choice(_SUBJECTS)} {rng.choice(_VERBS)} {rng.choice(_OBJECTS)}{' ' + tail if tail else ''}."
        if rng.random() < 0.3:
            a, b = rng.randint(1, 99), rng.randint(1, 99)
            line += f" {a} + {b} = {a + b}. There are {rng.choice(_NUMBERS)} of them."
        lines.append(line[0].upper() + line[1:])
    return lines


def build(cfg, out: Path) -> None:
    """Train the tokenizer, build the Llama from a config, save both to `out`."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    bpe.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=cfg.vocab_size,
        special_tokens=SPECIALS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(corpus(cfg.corpus_sentences, cfg.init_seed), trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        bos_token="<|endoftext|>",
        eos_token="<|endoftext|>",
        unk_token="<|endoftext|>",
        pad_token="<|pad|>",
        model_max_length=cfg.max_position,
    )
    tokenizer.chat_template = CHAT_TEMPLATE

    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=cfg.hidden_size,
        intermediate_size=cfg.intermediate_size,
        num_hidden_layers=cfg.layers,
        num_attention_heads=cfg.heads,
        num_key_value_heads=cfg.kv_heads,
        max_position_embeddings=cfg.max_position,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
    )
    torch.manual_seed(cfg.init_seed)
    model = LlamaForCausalLM(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
