#!/usr/bin/env python3
"""The llama.cpp peer for `adforge bench text`: decode tokens/s on the same GGUF with the same
thread count, through llama-cpp-python (compiled from source by pip, about 10 minutes on 2 cores).

    scripts/peer_llamacpp.sh                  # makes the venv outside the repo, then runs this
    python3 scripts/peer_llamacpp.py MODEL.gguf --threads 2 --sequences 1 8 --tokens 128

One stream: the high-level API (`Llama.create_completion`), decode rate from llama.cpp's own
perf counters. N streams: the low-level batch API, N sequences decoded together, one token each
per `llama_decode`, greedy. Prints one JSON object per line. Never run in CI.
"""
import argparse
import json
import time

import llama_cpp
import numpy as np

PROMPT = "Write a product description for a stainless steel water bottle that keeps drinks cold for a day."


def single_stream(path, threads, tokens):
    llm = llama_cpp.Llama(model_path=path, n_threads=threads, n_threads_batch=threads, n_ctx=2048, verbose=False)
    # Fixed-length output, as adforge's `ignore_eos`: the end tokens are banned (without this the
    # instruct model ends a raw prompt at once and the run measures nothing).
    ends = {llm.token_eos(): -1e9}
    for text in (b"<|im_end|>", b"<|endoftext|>"):
        ids = llm.tokenize(text, add_bos=False, special=True)
        if len(ids) == 1:
            ends[ids[0]] = -1e9
    llm.create_completion(PROMPT, max_tokens=8, temperature=0, logit_bias=ends)  # warm-up
    llama_cpp.llama_perf_context_reset(llm.ctx)
    started = time.perf_counter()
    out = llm.create_completion(PROMPT, max_tokens=tokens, temperature=0, stop=[], logit_bias=ends)
    wall = time.perf_counter() - started
    perf = llama_cpp.llama_perf_context(llm.ctx)
    decode_tps = perf.n_eval / (perf.t_eval_ms / 1000.0) if perf.t_eval_ms > 0 else None
    n = out["usage"]["completion_tokens"]
    return {"peer": "llama.cpp", "api": "high-level", "sequences": 1, "threads": threads,
            "completion_tokens": n, "decode_tokens_per_s": decode_tps, "wall_tokens_per_s": n / wall}


def clear_memory(ctx):
    if hasattr(llama_cpp, "llama_memory_clear"):
        llama_cpp.llama_memory_clear(llama_cpp.llama_get_memory(ctx), True)
    else:
        llama_cpp.llama_kv_self_clear(ctx)


def batched(path, threads, sequences, tokens):
    llama_cpp.llama_backend_init()
    model = llama_cpp.llama_model_load_from_file(path.encode(), llama_cpp.llama_model_default_params())
    cparams = llama_cpp.llama_context_default_params()
    cparams.n_ctx = 4096
    cparams.n_batch = 1024
    cparams.n_seq_max = sequences
    cparams.n_threads = threads
    cparams.n_threads_batch = threads
    ctx = llama_cpp.llama_init_from_model(model, cparams)
    vocab = llama_cpp.llama_model_get_vocab(model)
    n_vocab = llama_cpp.llama_vocab_n_tokens(vocab)
    buf = (llama_cpp.llama_token * 512)()
    n_prompt = llama_cpp.llama_tokenize(vocab, PROMPT.encode(), len(PROMPT.encode()), buf, 512, False, True)
    prompt = list(buf[:n_prompt])
    batch = llama_cpp.llama_batch_init(max(n_prompt * sequences, sequences), 0, sequences)

    def fill(entries):
        batch.n_tokens = len(entries)
        for i, (token, pos, seq, logits) in enumerate(entries):
            batch.token[i] = token
            batch.pos[i] = pos
            batch.n_seq_id[i] = 1
            batch.seq_id[i][0] = seq
            batch.logits[i] = 1 if logits else 0

    def argmax(i):
        ptr = llama_cpp.llama_get_logits_ith(ctx, i)
        return int(np.argmax(np.ctypeslib.as_array(ptr, shape=(n_vocab,))))

    clear_memory(ctx)
    fill([(t, p, s, p == n_prompt - 1) for s in range(sequences) for p, t in enumerate(prompt)])
    assert llama_cpp.llama_decode(ctx, batch) == 0
    last = [argmax(s * n_prompt + n_prompt - 1) for s in range(sequences)]
    started = time.perf_counter()
    for step in range(tokens):
        fill([(last[s], n_prompt + step, s, True) for s in range(sequences)])
        assert llama_cpp.llama_decode(ctx, batch) == 0
        last = [argmax(s) for s in range(sequences)]
    elapsed = time.perf_counter() - started
    llama_cpp.llama_batch_free(batch)
    llama_cpp.llama_free(ctx)
    return {"peer": "llama.cpp", "api": "low-level batch", "sequences": sequences, "threads": threads,
            "decode_steps": tokens, "decode_tokens_per_s": sequences * tokens / elapsed}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("model")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--sequences", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--tokens", type=int, default=128)
    args = parser.parse_args()
    print(json.dumps(single_stream(args.model, args.threads, args.tokens)), flush=True)
    for n in args.sequences:
        print(json.dumps(batched(args.model, args.threads, n, args.tokens)), flush=True)


if __name__ == "__main__":
    main()
