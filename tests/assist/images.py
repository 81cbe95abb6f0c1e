"""Real image files that a pretrained backbone tells apart, drawn with Pillow (no photographs are shipped with the
tests): "Cat" images are warm discs on a light ground, "Dog" images cool horizontal stripes on a dark one, each with
its own size, position, colour jitter and noise. Real photographs are measured by bench/ml.py instead."""

from __future__ import annotations

import io
import random

from PIL import Image, ImageDraw, ImageFilter


def draw(kind: str, seed: int, size: tuple[int, int] = (160, 120)) -> bytes:
    rng = random.Random(f"{kind}-{seed}")
    width, height = size
    if kind == "Cat":
        image = Image.new("RGB", size, (230 + rng.randint(-20, 20), 225 + rng.randint(-20, 20), 200))
        paint = ImageDraw.Draw(image)
        for _ in range(rng.randint(1, 3)):
            r = rng.randint(height // 6, height // 3)
            x, y = rng.randint(r, width - r), rng.randint(r, height - r)
            paint.ellipse((x - r, y - r, x + r, y + r), fill=(200 + rng.randint(0, 55), 60 + rng.randint(0, 60), 20))
    else:
        image = Image.new("RGB", size, (20, 30 + rng.randint(0, 30), 60 + rng.randint(0, 40)))
        paint = ImageDraw.Draw(image)
        step = rng.randint(8, 20)
        for y in range(rng.randint(0, step), height, step):
            paint.rectangle((0, y, width, y + step // 2), fill=(40, 120 + rng.randint(0, 80), 200 + rng.randint(0, 55)))
    for _ in range(200):  # a little noise, so no two images are alike
        paint.point((rng.randrange(width), rng.randrange(height)), fill=tuple(rng.randrange(256) for _ in range(3)))
    out = io.BytesIO()
    image.filter(ImageFilter.SMOOTH).save(out, "JPEG", quality=90)
    return out.getvalue()
