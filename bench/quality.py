"""Measure the shipped models: prompt adherence, SR fidelity/sharpness and CPU speed.

    .venv/bin/python bench/quality.py all          # everything (about 20 minutes, 1 thread)
    .venv/bin/python bench/quality.py t2i|schedulers|sr|speed

Results are merged into ``bench/quality_results/quality.json``; grids are saved next to it.
Prompt adherence: a small CNN trained on the real emoji predicts the Unicode group (9 groups)
of generated images; we report its accuracy on generated images vs held-out real ones.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from studio.data.emoji import GROUPS  # noqa: E402
from studio.training.common import (  # noqa: E402
    image_grid,
    load_image_folder,
    pil_to_tensor,
    tensor_to_pil,
)

RESULTS = ROOT / "bench" / "quality_results"
MODEL = ROOT / "resources" / "models" / "emoji-sd"
SR_MODEL = ROOT / "resources" / "models" / "sr-residual"
EMOJI = ROOT / "data" / "emoji"
PHOTOS_EVAL = ROOT / "data" / "photos" / "eval"


def save_results(section: str, values: dict) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / "quality.json"
    data = json.loads(path.read_text()) if path.exists() else {}
    data[section] = values
    path.write_text(json.dumps(data, indent=2) + "\n")
    print(json.dumps({section: values}, indent=2))


def emoji_groups() -> tuple[torch.Tensor, list[str], torch.Tensor]:
    """Real emoji (excluding the 'Component' group), captions and group labels."""
    records = [json.loads(line) for line in (EMOJI / "metadata.jsonl").open(encoding="utf-8")]
    data = load_image_folder(EMOJI, 64)
    by_file = {r["file"]: r for r in records}
    keep = [i for i, f in enumerate(data.files) if by_file[f]["group"] in GROUPS]
    labels = torch.tensor([GROUPS.index(by_file[data.files[i]]["group"]) for i in keep])
    return data.images[keep], [data.captions[i] for i in keep], labels


class GroupClassifier(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for cin, cout in ((3, 32), (32, 64), (64, 128), (128, 128)):
            conv = nn.Conv2d(cin, cout, 3, stride=2, padding=1)
            layers += [conv, nn.BatchNorm2d(cout), nn.ReLU()]
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(128, len(GROUPS))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).mean((2, 3)))


def augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Shifts, flips and random blur (generated images are softer than the real ones)."""
    shift = torch.randint(-4, 5, (2,), generator=gen).tolist()
    x = torch.roll(x, shifts=shift, dims=(2, 3))
    if torch.rand(1, generator=gen).item() < 0.5:
        x = x.flip(-1)
    if torch.rand(1, generator=gen).item() < 0.5:
        side = int(torch.randint(16, 48, (1,), generator=gen))
        x = F.interpolate(F.interpolate(x, size=side, mode="area"), size=64, mode="bilinear")
    return x


def train_classifier(steps: int = 1500) -> tuple[GroupClassifier, float]:
    """Train on 80% of the real emoji (cached); return the model and held-out real accuracy."""
    cache = ROOT / "runs" / "bench" / "group_classifier.pt"
    if cache.exists():
        state = torch.load(cache, weights_only=True)
        model = GroupClassifier()
        model.load_state_dict(state["model"])
        return model.eval(), state["accuracy"]
    images, _, labels = emoji_groups()
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(0))
    test, train = order[: len(order) // 5], order[len(order) // 5 :]
    model, gen = GroupClassifier(), torch.Generator().manual_seed(1)
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, 2e-3, total_steps=steps)
    for _ in range(steps):
        idx = train[torch.randint(len(train), (64,), generator=gen)]
        loss = F.cross_entropy(model(augment(images[idx], gen)), labels[idx], label_smoothing=0.1)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
    model.eval()
    accuracy = (classify(model, images[test]) == labels[test]).float().mean().item()
    cache.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model": model.state_dict(), "accuracy": accuracy}, cache)
    return model, accuracy


@torch.no_grad()
def classify(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    return torch.cat([model(images[i : i + 256]).argmax(1) for i in range(0, len(images), 256)])


def load_pipeline(scheduler: str | None = None, model: Path = MODEL):
    from diffusers import StableDiffusionPipeline

    from studio.training.diffusion import make_scheduler

    pipe = StableDiffusionPipeline.from_pretrained(model)
    pipe.set_progress_bar_config(disable=True)
    if scheduler is not None:
        pipe.scheduler = make_scheduler(scheduler)
    return pipe


def generate(pipe, captions: list[str], seed: int, steps: int, guidance: float, batch: int = 50):
    images = []
    for start in range(0, len(captions), batch):
        chunk = captions[start : start + batch]
        gens = [torch.Generator().manual_seed(seed * 100_000 + start + i)
                for i in range(len(chunk))]
        out = pipe(chunk, num_inference_steps=steps, guidance_scale=guidance, height=64, width=64,
                   generator=gens)
        images += out.images
    return images


def adherence(pipe, model, captions, labels, seeds, steps, guidance) -> tuple[float, list]:
    correct, total, all_images = 0, 0, []
    for seed in seeds:
        images = generate(pipe, captions, seed, steps, guidance)
        predicted = classify(model, torch.stack([pil_to_tensor(im) for im in images]))
        correct += (predicted == labels).sum().item()
        total += len(labels)
        all_images += images
    return correct / total, all_images


def pick_captions(count: int) -> tuple[list[str], torch.Tensor]:
    captions, labels, _ = pick_examples(count, emoji_groups())
    return captions, labels


def pick_examples(count: int, groups: tuple[torch.Tensor, list[str], torch.Tensor]
                  ) -> tuple[list[str], torch.Tensor, torch.Tensor]:
    """`count` captions spread over all groups, their labels and their real images."""
    images, captions, labels = groups
    index = np.linspace(0, len(captions) - 1, count).round().astype(int)
    return [captions[i] for i in index], labels[index], images[index]


def identity_ranks(generated: torch.Tensor, real: torch.Tensor, all_real: torch.Tensor
                   ) -> torch.Tensor:
    """Rank (1 = nearest) of each prompt's own emoji among all real emoji, by the L2 distance
    of 16x16 area-downsampled RGB: does "red apple" look more like the red apple than like
    any of the other emoji?"""
    def small(x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, size=16, mode="area").flatten(1)

    gen, pool = small(generated), small(all_real)
    own = (gen - small(real)).pow(2).sum(1)
    distances = torch.cdist(gen, pool).pow(2)
    return (distances < own[:, None] - 1e-6).sum(1) + 1


def run_schedulers(args: argparse.Namespace) -> None:
    """Compare samplers (and guidance) at 25 steps on a subset; picks the default scheduler."""
    torch.manual_seed(0)
    model, real_acc = train_classifier()
    captions, labels = pick_captions(args.subset)
    results = {"real_heldout_accuracy": real_acc, "captions": len(captions), "runs": []}
    for name in args.schedulers:
        for guidance in args.guidances:
            start = time.time()
            pipe = load_pipeline(name, args.model)
            acc, _ = adherence(pipe, model, captions, labels, (0,), 25, guidance)
            results["runs"].append({"scheduler": name, "guidance": guidance, "accuracy": acc,
                                    "seconds": round(time.time() - start, 1)})
            print(results["runs"][-1], flush=True)
    best = max(results["runs"], key=lambda r: r["accuracy"])
    results["chosen"] = best["scheduler"]
    save_results("schedulers", results)
    if args.set_default:
        set_default_scheduler(best["scheduler"])


def set_default_scheduler(name: str) -> None:
    """Store the measured best sampler in the model folder and refresh the test reference."""
    from studio.training.diffusion import make_scheduler
    from studio.training.export import write_reference_sample

    scheduler = make_scheduler(name)
    scheduler.save_pretrained(MODEL / "scheduler")
    index_path = MODEL / "model_index.json"
    index = json.loads(index_path.read_text())
    index["scheduler"] = ["diffusers", type(scheduler).__name__]
    index_path.write_text(json.dumps(index, indent=2) + "\n")
    write_reference_sample(MODEL)


def run_t2i(args: argparse.Namespace) -> None:
    torch.manual_seed(0)
    model, real_acc = train_classifier()
    groups = emoji_groups()  # all real emoji, loaded once
    captions, labels, real = pick_examples(args.captions, groups)
    same_real = (classify(model, real) == labels).float().mean().item()
    pipe = load_pipeline(model=args.model)
    acc, images = adherence(pipe, model, captions, labels, (0, 1), args.steps, args.guidance)
    image_grid(images[:64], columns=16).save(RESULTS / "t2i_samples.png")
    generated = torch.stack([pil_to_tensor(im) for im in images])
    ranks = identity_ranks(generated, real.repeat(2, 1, 1, 1), groups[0])
    apple = red_apple_sheet(pipe, args, groups)
    save_results("t2i", {
        "generated_group_accuracy": acc, "real_heldout_accuracy": real_acc,
        "real_same_captions_accuracy": same_real,
        "identity_top1": (ranks == 1).float().mean().item(),
        "identity_top5": (ranks <= 5).float().mean().item(),
        "identity_median_rank": ranks.median().item(), "identity_pool": len(groups[0]),
        "captions": len(captions), "seeds": 2, "steps": args.steps, "guidance": args.guidance,
        "scheduler": type(pipe.scheduler).__name__, "chance_level": 1 / len(GROUPS),
        "red_apple_identity_ranks": apple,
    })


def red_apple_sheet(pipe, args: argparse.Namespace,
                    groups: tuple[torch.Tensor, list[str], torch.Tensor]) -> list[int]:
    """The real red apple, then 8 seeds of its prompt (`red_apple.png`); identity ranks."""
    images, captions, _ = groups
    caption = "red apple, food & drink, food fruit"
    real = images[captions.index(caption)]
    generated = [generate(pipe, [caption], seed, args.steps, args.guidance)[0]
                 for seed in range(8)]
    stack = torch.stack([pil_to_tensor(im) for im in generated])
    ranks = identity_ranks(stack, real.expand(8, -1, -1, -1), images).tolist()
    tiles = [tensor_to_pil(real), *generated]
    image_grid([t.resize((128, 128)) for t in tiles], columns=9).save(RESULTS / "red_apple.png")
    return ranks


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    return 10 * math.log10(1.0 / F.mse_loss(a, b).item())


def ssim(a: torch.Tensor, b: torch.Tensor) -> float:
    """Mean SSIM over channels with an 11x11 Gaussian window (sigma 1.5), images in [0, 1]."""
    coords = torch.arange(11, dtype=torch.float32) - 5
    g = torch.exp(-(coords**2) / (2 * 1.5**2))
    window = (g[:, None] * g[None, :] / g.sum() ** 2).expand(3, 1, 11, 11)

    def blur(x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, window, groups=3)

    mu_a, mu_b = blur(a), blur(b)
    var_a, var_b = blur(a * a) - mu_a**2, blur(b * b) - mu_b**2
    cov = blur(a * b) - mu_a * mu_b
    c1, c2 = 0.01**2, 0.03**2
    numerator = (2 * mu_a * mu_b + c1) * (2 * cov + c2)
    value = numerator / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return value.mean().item()


def gradient_energy(x: torch.Tensor) -> float:
    return ((x[..., 1:, :] - x[..., :-1, :]) ** 2).mean().item() + (
        (x[..., :, 1:] - x[..., :, :-1]) ** 2).mean().item()


@torch.no_grad()
def run_sr(args: argparse.Namespace) -> None:
    from studio.training.sr import downscale, load_photos, load_sr_model

    model = load_sr_model(SR_MODEL)
    results = {}
    for scale in (2, 4):
        rows = []
        for photo in load_photos(PHOTOS_EVAL):
            h, w = (photo.shape[1] // 4) * 4, (photo.shape[2] // 4) * 4
            hr = photo[None, :, :h, :w]
            lr = downscale(hr) if scale == 2 else downscale(downscale(hr))
            bic = F.interpolate(lr, size=(h, w), mode="bicubic").clamp(0, 1)
            sr = lr
            for _ in range(int(math.log2(scale))):
                sr = model(sr).clamp(0, 1)
            rows.append([psnr(sr, hr), psnr(bic, hr), ssim(sr, hr), ssim(bic, hr),
                         gradient_energy(sr) / gradient_energy(hr),
                         gradient_energy(bic) / gradient_energy(hr)])
        m = np.mean(rows, axis=0).tolist()
        results[f"x{scale}"] = {"psnr_sr": m[0], "psnr_bicubic": m[1], "ssim_sr": m[2],
                                "ssim_bicubic": m[3], "grad_energy_ratio_sr": m[4],
                                "grad_energy_ratio_bicubic": m[5], "images": len(rows)}
    save_results("sr", results)


def run_speed(args: argparse.Namespace) -> None:
    from PIL import Image

    from studio.training.sr import load_sr_model, upscale

    torch.set_num_threads(args.threads)
    pipe, sr = load_pipeline(), load_sr_model(SR_MODEL)
    generate(pipe, ["grinning face"], 0, 2, 4.0)
    start = time.time()
    for seed in range(3):
        image = generate(pipe, ["red apple, food & drink, food fruit"], seed, 25, args.guidance)[0]
    t2i = (time.time() - start) / 3
    start = time.time()
    for _ in range(3):
        big = upscale(sr, image, 4)
    up = (time.time() - start) / 3
    row = [image.resize((256, 256), Image.Resampling.NEAREST),
           image.resize((256, 256), Image.Resampling.BICUBIC), big]
    image_grid(row, columns=3).save(RESULTS / "cascade_64_to_256.png")
    save_results("speed", {"threads": args.threads, "t2i_64px_25_steps_s": t2i,
                           "sr_64_to_256_s": up, "cascade_64_to_256_s": t2i + up,
                           "cpu": "this machine (2 cores, no GPU)"})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("what", choices=["all", "t2i", "schedulers", "sr", "speed", "set-default"])
    parser.add_argument("--scheduler", default="ddpm", help="for set-default")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--model", type=Path, default=MODEL, help="text-to-image model folder")
    parser.add_argument("--captions", type=int, default=200)
    parser.add_argument("--subset", type=int, default=72)
    parser.add_argument("--steps", type=int, default=25)
    parser.add_argument("--guidance", type=float, default=4.0)
    parser.add_argument("--schedulers", nargs="*", default=["ddpm", "euler_a", "euler", "dpm++"])
    parser.add_argument("--guidances", nargs="*", type=float, default=[4.0])
    parser.add_argument("--set-default", action="store_true", help="save the best scheduler")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    RESULTS.mkdir(parents=True, exist_ok=True)
    jobs = {"schedulers": run_schedulers, "t2i": run_t2i, "sr": run_sr, "speed": run_speed}
    if args.what == "set-default":
        set_default_scheduler(args.scheduler)
    for name, job in jobs.items():
        if args.what in (name, "all"):
            job(args)


if __name__ == "__main__":
    main()
