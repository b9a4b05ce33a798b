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
_QUARTER_TURNS = {5, 6, 7, 8}  # EXIF orientations that swap width and height


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
    image: Image.Image = field(repr=False)  # upright already: the next, smaller one's source


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
            stripped = _strip(image, content_type, workdir)
            if _turned_upright(image, content_type, stripped):
                width, height = height, width
            processed = Processed(width, height, stripped=stripped)
            if processed.stripped is None:
                # Nothing decoded yet: a JPEG's decoder can scale by 1/2..1/8 as it decodes
                # (2.8x faster and a third of the memory on a 12 MP photo, measured in
                # bench/thumbnail_libraries.py); no-op for other formats.
                image.draft("RGB", _fitted((width, height), max(sizes)))
            image.load()
            larger: Image.Image = image
            for size in sorted(sizes, reverse=True):
                # Each from the previous, larger one: far fewer pixels to resample.
                thumbnail = _thumbnail(larger, size, workdir, upright=larger is not image)
                processed.thumbnails.append(thumbnail)
                larger = thumbnail.image
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


def _turned_upright(image: Image.Image, content_type: str, stripped: Path | None) -> bool:
    """Whether what is served is the image turned a quarter (``_strip`` applies a JPEG's
    orientation to its pixels)."""
    turned = image.getexif().get(_ORIENTATION, 1) in _QUARTER_TURNS
    return stripped is not None and content_type == "image/jpeg" and turned


def _fitted(size: tuple[int, int], box: int) -> tuple[int, int]:
    """``size`` scaled down to fit in a ``box`` x ``box`` square, as ``thumbnail`` does."""
    width, height = size
    scale = min(1.0, box / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def _thumbnail(image: Image.Image, size: int, workdir: Path, *, upright: bool) -> Thumbnail:
    thumb = image.copy() if upright else ImageOps.exif_transpose(image.copy())
    if thumb.mode not in {"RGB", "RGBA"}:
        alpha = "transparency" in image.info or "A" in thumb.mode
        thumb = thumb.convert("RGBA" if alpha else "RGB")
    thumb.thumbnail((size, size), Image.Resampling.LANCZOS)
    target = Path(tempfile.mkstemp(dir=workdir, suffix=f".{size}.webp")[1])
    thumb.save(target, "WEBP", quality=80, method=4)
    return Thumbnail(size, thumb.width, thumb.height, target, thumb)
