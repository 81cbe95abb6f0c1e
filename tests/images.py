"""Real image files for tests that serve items (browser tests open them full size)."""

import io
import os

from PIL import Image


def write_item_files(project, items, colour=(120, 160, 200)) -> None:
    """A small JPEG behind every item, when the project's local datastore folder exists."""
    root = project.dataset.datastore.local_path
    if not os.path.isdir(root):
        return
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), colour).save(buffer, "JPEG")
    for item in items:
        path = os.path.join(root, item.key)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as handle:
            handle.write(buffer.getvalue())
