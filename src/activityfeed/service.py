"""The service: one method per use case, between the HTTP layer and the store.

Every method takes the caller's team: a key never reaches another team's
data, and nothing it gets back says whether another team's data exists.
"""

from __future__ import annotations

from collections.abc import Iterable

from activityfeed import render
from activityfeed.auth import bearer_token, check_key, hash_key
from activityfeed.bodies import Limits, parse_bulk, parse_one, parse_update
from activityfeed.errors import Invalid, NotFound
from activityfeed.hydrate import Hydrator, NoDynamicData
from activityfeed.model import ApiKey
from activityfeed.query import parse_list_query
from activityfeed.storage.base import BulkResult, DuplicateId, Row, Storage


class ActivityService:
    """The use cases of the activity API."""

    def __init__(self, storage: Storage, limits: Limits, hydrator: Hydrator | None = None) -> None:
        self.storage = storage
        self.limits = limits
        self.hydrator: Hydrator = hydrator or NoDynamicData()

    async def authenticate(self, authorization: str | None) -> ApiKey:
        """The key of a request's ``Authorization`` header, or a 401."""
        token = bearer_token(authorization)
        return check_key(await self.storage.find_key(hash_key(token)))

    async def list_page(self, team_id: int, pairs: Iterable[tuple[str, str]]) -> bytes:
        """``GET /v2/activity_histories``: a whole response body."""
        query = parse_list_query(pairs)
        result = await self.storage.list_activities(team_id, query)
        dynamic = await self.hydrator.hydrate(team_id, result.rows) if result.rows else None
        return render.page_json(query, result, dynamic)

    async def _one(self, team_id: int, row: Row) -> bytes:
        dynamic = await self.hydrator.hydrate(team_id, [row])
        activity = render.activity_json(row.doc, dynamic[0] if dynamic else render.EMPTY_DYNAMIC)
        return render.data_envelope(activity)

    async def get(self, team_id: int, activity_id: str) -> bytes:
        """``GET /v2/activity_histories/{id}``."""
        row = await self.storage.get_activity(team_id, activity_id)
        if row is None:
            raise NotFound()
        return await self._one(team_id, row)

    async def create(self, team_id: int, body: object) -> bytes:
        """``POST /v2/activity_histories``: the created activity, without dynamic data."""
        item = parse_one(body, self.limits)
        try:
            row = await self.storage.create_activity(team_id, item)
        except DuplicateId:
            raise Invalid({"id": ["has already been taken"]}) from None
        return render.data_envelope(render.created_json(row.doc))

    async def update(self, team_id: int, activity_id: str, body: object) -> bytes:
        """``PUT /v2/activity_histories/{id}``."""
        changes = parse_update(body, self.limits)
        row = await self.storage.update_activity(team_id, activity_id, changes)
        if row is None:
            raise NotFound()
        return await self._one(team_id, row)

    async def delete(self, team_id: int, activity_id: str) -> None:
        """``DELETE /v2/activity_histories/{id}``."""
        if not await self.storage.delete_activity(team_id, activity_id):
            raise NotFound()

    async def bulk(self, team_id: int, body: object) -> BulkResult:
        """``POST /v2/activity_histories/bulk``: all or nothing."""
        items = parse_bulk(body, self.limits)
        if not items:
            return BulkResult(0, 0, 0)
        return await self.storage.upsert_activities(team_id, items)
