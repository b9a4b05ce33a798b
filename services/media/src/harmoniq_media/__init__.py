"""Harmoniq media service: uploads streamed to S3-compatible storage, served by presigned URL."""
