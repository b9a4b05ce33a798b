"""Images with Pillow: size, refusal of decompression bombs, metadata stripping, thumbnails.

Everything here is blocking and CPU-bound: callers run it in a worker thread, a bounded number
at a time (see ``Uploads``). Choice of Pillow over pyvips: docs/decisions.md ("Media").
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from harmoniq_common.errors import ApiError

__all__ = ["ImageRefused", "Processed", "Thumbnail", "process_image"]

_FORMATS = {"image/png": "PNG", "image/jpeg": "JPEG", "image/gif": "GIF", "image/webp": "WEBP"}
_ORIENTATION = 0x0112


class ImageRefused(ApiError):
    status_code = 422
    code = "invalid_image"
    default_message = "the image cannot be read"


@dataclass(frozen=True)
class Thumbnail:
    size: int
    width: int
    height: int
    path: Path


@dataclass
class Processed:
    width: int
    height: int
    # A copy without EXIF/GPS/text metadata to serve instead of the upload (None: it had none).
    stripped: Path | None = None
    thumbnails: list[Thumbnail] = field(default_factory=list)


def process_image(
    source: Path, content_type: str, *, sizes: list[int], max_pixels: int, workdir: Path
) -> Processed:
    """Measure, check and thumbnail the image in ``source``; files go into ``workdir``."""
    try:
        with Image.open(source, formats=[_FORMATS[content_type]]) as image:
            width, height = image.size  # from the header: nothing decoded yet
            if width * height > max_pixels:
                raise ImageRefused(
                    f"the image is {width}x{height} pixels, over the limit of {max_pixels}",
                    code="image_too_large",
                )
            image.seek(0)  # an animated image's first frame: its still thumbnail
            image.load()
            processed = Processed(width, height, stripped=_strip(image, content_type, workdir))
            for size in sorted(sizes, reverse=True):
                processed.thumbnails.append(_thumbnail(image, size, workdir))
            return processed
    except ImageRefused:
        raise
    except Image.DecompressionBombError as error:  # Pillow's own guard, past 2x its limit
        raise ImageRefused(str(error), code="image_too_large") from error
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as error:
        raise ImageRefused(f"the image is corrupt or truncated: {error}") from error


def _strip(image: Image.Image, content_type: str, workdir: Path) -> Path | None:
    """A copy without metadata, when the upload carries any (EXIF, GPS, XMP, text chunks)."""
    info_keys = set(image.info) & {"exif", "xmp", "XML:com.adobe.xmp", "comment", "Description"}
    has_text = content_type == "image/png" and any(isinstance(v, str) for v in image.info.values())
    if content_type == "image/gif" or not (info_keys or has_text or image.getexif()):
        return None
    target = Path(tempfile.mkstemp(dir=workdir, suffix=".strip")[1])
    icc = image.info.get("icc_profile")
    extra = {"icc_profile": icc} if icc else {}
    if content_type == "image/jpeg":
        oriented = image.getexif().get(_ORIENTATION, 1) != 1
        if oriented:  # the orientation tag goes with the EXIF: apply it to the pixels
            ImageOps.exif_transpose(image).save(target, "JPEG", quality=92, **extra)
        else:
            image.save(target, "JPEG", quality="keep", **extra)
    elif content_type == "image/png":
        image.save(target, "PNG", **extra)
    else:
        image.save(target, "WEBP", quality=90, **extra)
    return target


def _thumbnail(image: Image.Image, size: int, workdir: Path) -> Thumbnail:
    thumb = ImageOps.exif_transpose(image.copy())
    if thumb.mode not in {"RGB", "RGBA"}:
        alpha = "transparency" in image.info or "A" in thumb.mode
        thumb = thumb.convert("RGBA" if alpha else "RGB")
    thumb.thumbnail((size, size), Image.Resampling.LANCZOS)
    target = Path(tempfile.mkstemp(dir=workdir, suffix=f".{size}.webp")[1])
    thumb.save(target, "WEBP", quality=80, method=4)
    return Thumbnail(size, thumb.width, thumb.height, target)
