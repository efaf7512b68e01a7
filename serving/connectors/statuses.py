"""CRM statuses onto leadscore's funnel (features.funnel.Status).

Each connector's config has a status map: the CRM's status (amoCRM's numeric
``status_id``, Bitrix24's ``STATUS_ID``, a HubSpot property value) -> a funnel status.
amoCRM's "won" (142) and "lost" (143) are the CRM's own fixed ids in every pipeline, so
they are always in its map and cannot be mapped elsewhere. A status not in the map is
left alone (the event is recorded as ignored).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from features.funnel import Status

#: amoCRM's fixed status ids, the same in every pipeline.
AMOCRM_FIXED: dict[str, Status] = {"142": Status.WON, "143": Status.LOST}


@dataclass(frozen=True)
class StatusMap:
    """One CRM's statuses onto the funnel."""

    mapping: Mapping[str, Status] = field(default_factory=dict)

    def __call__(self, crm_status: str | None) -> Status | None:
        if crm_status is None:
            return None
        return self.mapping.get(str(crm_status).strip())


def status_map(
    configured: Mapping[str, Status], fixed: Mapping[str, Status] | None = None
) -> StatusMap:
    """The configured map with a CRM's fixed statuses on top (a clash is refused)."""
    fixed = fixed or {}
    for key, status in configured.items():
        if key in fixed and fixed[key] is not status:
            raise ValueError(
                f"status {key} is the CRM's fixed '{fixed[key].value}' and cannot be "
                f"mapped to '{status.value}'"
            )
    return StatusMap({**{str(k): v for k, v in configured.items()}, **fixed})
