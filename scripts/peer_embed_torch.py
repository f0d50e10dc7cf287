#!/usr/bin/env python3
"""The torch peer for `cargo bench --bench embed`: all-MiniLM-L6-v2 from the same model folder
(config.json, model.safetensors, tokenizer.json), f32 on the CPU with the same thread count,
mean pooling over the attention mask and L2 normalisation (what sentence-transformers does), on
the same eight sentences at batch 1, 8 and 32. Needs torch and transformers in a venv outside
the repository (scripts/peer_embed_torch.sh makes it); never run in CI.

    python3 scripts/peer_embed_torch.py MODEL_DIR --threads 2
"""
import argparse
import json
import time

import torch
from transformers import AutoModel, AutoTokenizer

SENTENCES = [
    "A man is eating food.",
    "Fresh bread from our bakery every single morning.",
    "Running shoes built for trail and road alike.",
    "A cosy cafe by the sea with the best coffee in town.",
    "Winter jackets now thirty percent off.",
    "The new movie is awesome.",
    "Learn a language in ten minutes a day with our app.",
    "Book your summer holiday today and save.",
]


def embed(model, tokenizer, texts):
    batch = tokenizer(texts, padding=True, truncation=True, max_length=256, return_tensors="pt")
    with torch.inference_mode():
        hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).float()
    mean = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
    return torch.nn.functional.normalize(mean, dim=1)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("model_dir")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=4.0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    tokenizer = AutoTokenizer.from_pretrained(args.model_dir)
    model = AutoModel.from_pretrained(args.model_dir).eval()
    check = embed(model, tokenizer, ["A man is eating food.", "A man is eating a piece of bread."])
    print(json.dumps({"peer": "torch", "cos_check": float(check[0] @ check[1])}), flush=True)
    for size in [1, 8, 32]:
        texts = [SENTENCES[i % len(SENTENCES)] for i in range(size)]
        embed(model, tokenizer, texts)  # warm-up
        runs, started = 0, time.perf_counter()
        while time.perf_counter() - started < args.seconds:
            embed(model, tokenizer, texts)
            runs += 1
        elapsed = time.perf_counter() - started
        print(json.dumps({"peer": "torch", "batch": size, "threads": args.threads,
                          "sentences_per_s": runs * size / elapsed,
                          "ms_per_batch": elapsed / runs * 1e3}), flush=True)


if __name__ == "__main__":
    main()
