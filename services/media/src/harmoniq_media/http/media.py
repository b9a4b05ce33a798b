"""``/api/v1/media``: upload a file, and be redirected to it (or its thumbnail)."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.openapi import ResponseSpec
from litestar.params import FromPath, JSONBody, Parameter
from litestar.response import Redirect
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_302_FOUND

from harmoniq_common.errors import ErrorBody, PayloadTooLarge
from harmoniq_common.ids import Snowflake
from harmoniq_common.ratelimit import RateLimit, limit_request

from ..domain.links import BASE_URL, attachment
from ..settings import MediaSettings
from ..store.rows import MediaRow, ThumbnailRow
from .deps import Domain, UserRequest, dependencies
from .multipart import read_upload_form
from .schemas import DirectUploadIn, DirectUploadOut, MediaOut, PresignedPost

__all__ = ["MediaController", "render"]

D = NamedDependency[Domain]

# What the file itself can be refused for, beyond what every route answers (openapi.py).
_REFUSED = {
    413: "Over the size limit or the user's quota (`file_too_large`, `quota_exceeded`).",
    415: "Not multipart/form-data, a declared type the bytes contradict, or a type this "
    "purpose does not take (`unsupported_media_type`, `type_mismatch`).",
    422: "An image that is corrupt (`invalid_image`) or over the pixel limit (`image_too_large`).",
}
UPLOAD_REFUSALS = {
    status: ResponseSpec(data_container=ErrorBody, description=meaning, generate_examples=False)
    for status, meaning in _REFUSED.items()
}
COMPLETE_REFUSALS = {
    **UPLOAD_REFUSALS,
    409: ResponseSpec(
        data_container=ErrorBody,
        description="Nothing landed yet (`upload_missing`), or another request is completing "
        "it (`upload_completing`, with `Retry-After`).",
        generate_examples=False,
    ),
    422: ResponseSpec(
        data_container=ErrorBody,
        description="Not the declared size (`size_mismatch`), or an image that is corrupt or "
        "over the pixel limit.",
        generate_examples=False,
    ),
}


def render(row: MediaRow, thumbs: list[ThumbnailRow]) -> MediaOut:
    shown = attachment(row, thumbs, public_routes=False)
    return MediaOut(purpose=row.purpose, **msgspec.structs.asdict(shown))


def _redirect(url: str, settings: MediaSettings, *, public: bool = False) -> Redirect:
    # Cached by the client no longer than the signature lives.
    max_age = max(0, settings.presign_expiry_seconds - 60)
    scope = "public" if public else "private"
    return Redirect(
        url, status_code=HTTP_302_FOUND, headers={"Cache-Control": f"{scope}, max-age={max_age}"}
    )


class MediaController(Controller):
    path = BASE_URL
    tags = ["media"]
    dependencies = dependencies()

    @post(
        "/upload",
        operation_id="uploadMedia",
        status_code=HTTP_201_CREATED,
        responses=UPLOAD_REFUSALS,
    )
    async def upload(self, request: UserRequest, domain: D) -> MediaOut:
        """One file as multipart/form-data: a ``purpose`` field, then the ``file`` part."""
        settings: MediaSettings = request.app.state.platform.settings
        declared = request.content_length
        if declared is not None and declared > settings.max_upload_bytes:
            # Refused from the headers alone: not one byte of the body is read.
            raise PayloadTooLarge(
                f"the upload is {declared} bytes, over the limit of {settings.max_upload_bytes}",
                code="file_too_large",
            )
        user_id = request.user.user_id
        await limit_request(
            request,
            request.app.state.platform.limiter,
            RateLimit("upload", settings.upload_rate_limit, settings.upload_rate_period_seconds),
            str(user_id),
        )
        await domain.uploads.check_quota(user_id, declared or 1)
        fields, file = await read_upload_form(
            request.headers, request.stream(), settings.max_upload_bytes
        )
        row = await domain.uploads.upload(user_id, fields.get("purpose", "attachment"), file)
        return render(row, await domain.uploads.thumbnails(row.id))

    @post("/uploads", operation_id="requestDirectUpload", status_code=HTTP_201_CREATED)
    async def request_direct(
        self, request: UserRequest, data: JSONBody[DirectUploadIn], domain: D
    ) -> DirectUploadOut:
        """A pending upload and a presigned POST that sends its bytes straight to the store
        (exactly ``size`` bytes of ``content_type``, for a few minutes); then ``complete``."""
        settings: MediaSettings = request.app.state.platform.settings
        if data.size > settings.max_upload_bytes:
            raise PayloadTooLarge(
                f"the file is {data.size} bytes, over the limit of {settings.max_upload_bytes}",
                code="file_too_large",
            )
        user_id = request.user.user_id
        await limit_request(
            request,
            request.app.state.platform.limiter,
            RateLimit("upload", settings.upload_rate_limit, settings.upload_rate_period_seconds),
            str(user_id),
        )
        await domain.uploads.check_quota(user_id, data.size)
        direct = await domain.direct_uploads.request(
            user_id,
            purpose=data.purpose,
            filename=data.filename,
            size=data.size,
            content_type=data.content_type,
        )
        return DirectUploadOut(
            id=direct.row.id,
            upload=PresignedPost(url=direct.url, fields=direct.fields),
            expires_at=direct.expires_at,
        )

    @post(
        "/uploads/{media_id:str}/complete",
        operation_id="completeDirectUpload",
        status_code=HTTP_200_OK,
        responses=COMPLETE_REFUSALS,
    )
    async def complete_direct(
        self, request: UserRequest, media_id: FromPath[Snowflake], domain: D
    ) -> MediaOut:
        """Check what landed and make it usable: the media object (again, if done already)."""
        row = await domain.direct_uploads.complete(request.user.user_id, media_id)
        return render(row, await domain.uploads.thumbnails(row.id))

    @get(
        "/public/{media_id:str}",
        operation_id="getPublicMedia",
        status_code=HTTP_302_FOUND,
        exclude_from_auth=True,
    )
    async def fetch_public(
        self, request: Request[Any, Any, Any], media_id: FromPath[Snowflake], domain: D
    ) -> Redirect:
        """An avatar or server icon, without a token (404 for anything else)."""
        url = await domain.serving.url(None, media_id)
        return _redirect(url, request.app.state.platform.settings, public=True)

    @get(
        "/public/{media_id:str}/thumbnails/{size:str}",
        operation_id="getPublicMediaThumbnail",
        status_code=HTTP_302_FOUND,
        exclude_from_auth=True,
    )
    async def thumbnail_public(
        self,
        request: Request[Any, Any, Any],
        media_id: FromPath[Snowflake],
        size: Annotated[int, Parameter(ge=1, le=4096)],
        domain: D,
    ) -> Redirect:
        url = await domain.serving.thumbnail_url(None, media_id, size)
        return _redirect(url, request.app.state.platform.settings, public=True)

    @get("/{media_id:str}", operation_id="getMedia", status_code=HTTP_302_FOUND)
    async def fetch(
        self, request: UserRequest, media_id: FromPath[Snowflake], domain: D
    ) -> Redirect:
        """302 to the file, presigned for ``presign_expiry_seconds``, if the caller may see it."""
        url = await domain.serving.url(request.user.user_id, media_id)
        return _redirect(url, request.app.state.platform.settings)

    @get("/{media_id:str}/info", operation_id="getMediaInfo")
    async def info(
        self, request: UserRequest, media_id: FromPath[Snowflake], domain: D
    ) -> MediaOut:
        """The file's metadata, for whoever may see it."""
        row = await domain.serving.visible(request.user.user_id, media_id)
        return render(row, await domain.uploads.thumbnails(row.id))

    @get(
        "/{media_id:str}/thumbnails/{size:str}",
        operation_id="getMediaThumbnail",
        status_code=HTTP_302_FOUND,
    )
    async def thumbnail(
        self,
        request: UserRequest,
        media_id: FromPath[Snowflake],
        size: Annotated[int, Parameter(ge=1, le=4096)],
        domain: D,
    ) -> Redirect:
        url = await domain.serving.thumbnail_url(request.user.user_id, media_id, size)
        return _redirect(url, request.app.state.platform.settings)
