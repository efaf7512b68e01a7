"""The pages' navigation: each page group adds its links here, each with the permission
it needs; the layout shows a person only the links their role may use. A link's label is a
message id of the pages' catalog, translated where the layout shows it."""

from __future__ import annotations

from dataclasses import dataclass

from features.i18n import N_
from serving.api.auth import PERMISSIONS, Permission, Role


@dataclass(frozen=True)
class NavLink:
    label: str
    path: str
    needs: Permission | None = None

    def shown_to(self, role: Role) -> bool:
        return self.needs is None or role in PERMISSIONS[self.needs]


NAV: tuple[NavLink, ...] = (
    NavLink(N_("Home"), "/app"),
    NavLink(N_("Queue"), "/app/queue", Permission.READ_QUEUE),
    NavLink(N_("Sales"), "/app/sales", Permission.CHANGE_STATUS),
    NavLink(N_("Channels"), "/app/channels", Permission.READ_REPORTS),
    NavLink(N_("Admin"), "/app/admin", Permission.ADMIN),
    NavLink(N_("API docs"), "/docs"),
)

#: Where each role lands after signing in.
HOMES: dict[Role, str] = {
    Role.SDR: "/app/queue",
    Role.SALES: "/app/sales",
    Role.MARKETING: "/app/channels",
    Role.ADMIN: "/app/admin",
}


def links_for(role: Role) -> list[NavLink]:
    return [link for link in NAV if link.shown_to(role)]
