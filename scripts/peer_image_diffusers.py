"""The diffusers peer for `adforge bench image`: Stable Diffusion 1.5's UNet config with random
weights (float32, torch CPU), seconds per UNet step at the same size and batch sizes, one row
per image (no classifier-free guidance, as adforge's default bench), a timestep per sample.
Prints one JSON object. Run by scripts/bench_image.sh from a venv outside the repository;
never in CI.
"""

import argparse
import json
import time

import torch
from diffusers import UNet2DConditionModel


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--batches", default="1,2,4,8")
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        sample_size=64,
        block_out_channels=(320, 640, 1280, 1280),
        down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
        up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3,
        layers_per_block=2,
        attention_head_dim=8,
        cross_attention_dim=768,
    ).eval()
    side = args.size // 8
    rows = []
    for batch in [int(b) for b in args.batches.split(",")]:
        x = torch.randn(batch, 4, side, side)
        t = torch.full((batch,), 500.0)
        context = torch.randn(batch, 77, 768)
        with torch.inference_mode():
            unet(x, t, context)
            start = time.perf_counter()
            for _ in range(args.steps):
                unet(x, t, context)
            per_step = (time.perf_counter() - start) / args.steps
        rows.append({"batch": batch, "seconds_per_step": per_step,
                     "images_per_second": batch / (per_step * 20)})
    print(json.dumps({"peer": "diffusers " + __import__("diffusers").__version__ + ", torch " + torch.__version__,
                      "size": args.size, "threads": args.threads, "steps": rows}))


if __name__ == "__main__":
    main()
