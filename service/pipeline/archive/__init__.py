"""Evidence back ends: the local WARC store and the Wayback Machine."""

__all__ = ["capture_queue", "ratelimit", "store", "warc", "wayback", "wayback_parse"]
