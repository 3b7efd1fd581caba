"""Build a tiny, randomly initialised sentence-transformers model on disk, without any download.

A one-layer BERT with 32 hidden units, a WordPiece tokenizer over a hand-written vocabulary (the Chinese characters,
English words and prompt words the tests use) and mean pooling. Its vectors mean nothing, but it exercises the real
loading, tokenizing, prompting and truncation code of sentence-transformers.
"""

from __future__ import annotations

from pathlib import Path

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
WORDS = (
    "query passage search document : 。 , . ! ? ; the a of and for solar panel battery cold chain weld crack".split()
)
CHARS = list("相变蓄冷材料用于冷链物流焊接裂纹钢铁太阳能电池板发酵罐污染问题技术研发一种我们的是在和有末尾结束不同")


def save_tiny_tokenizer(folder: Path, max_length: int) -> dict[str, int]:
    """Write a BERT-style WordPiece tokenizer over the tiny vocabulary to ``folder``; return the vocabulary."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = {token: i for i, token in enumerate(dict.fromkeys(SPECIALS + WORDS + CHARS))}
    tokenizer = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True, handle_chinese_chars=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])],
    )
    PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=max_length,
    ).save_pretrained(folder)
    return vocab


def build_tiny_st_model(
    folder: Path, *, max_seq_length: int = 32, prompts: dict[str, str] | None = None, seed: int = 0
) -> Path:
    """Write a tiny SentenceTransformer to ``folder`` (created) and return ``folder``."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Pooling, Transformer
    from transformers import BertConfig, BertModel

    hf_folder = folder / "hf"
    vocab = save_tiny_tokenizer(hf_folder, max_seq_length)
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=max_seq_length,
    )
    BertModel(config).save_pretrained(hf_folder)

    transformer = Transformer(str(hf_folder), max_seq_length=max_seq_length)
    model = SentenceTransformer(modules=[transformer, Pooling(32, "mean")], prompts=prompts or {}, device="cpu")
    st_folder = folder / "st"
    model.save(str(st_folder))
    return st_folder
