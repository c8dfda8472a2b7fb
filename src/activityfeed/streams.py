"""Reading a body that arrives in chunks, under a limit on its size."""

from __future__ import annotations

from collections.abc import AsyncIterable


async def read_limited(chunks: AsyncIterable[bytes], limit: int) -> bytes | None:
    """The whole body, or ``None`` as soon as it is over ``limit`` bytes (the rest unread)."""
    parts: list[bytes] = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            return None
        parts.append(chunk)
    return b"".join(parts)
