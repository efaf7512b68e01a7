"""Vendor payloads the stand-ins serve and the tests send, in the shapes of the vendors'
documentation (each block names its source). Ids and values are the tests' own.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

# ------------------------------------------------------------------------------ amoCRM
# Lead model of GET /api/v4/leads/{id}?with=contacts:
# https://www.amocrm.ru/developers/content/crm_platform/leads-api ("Получение сделки по ID")
# (id, name, price, status_id, pipeline_id, created_at as Unix time, custom_fields_values
# with field_id/field_name/field_code/values, _embedded.contacts with is_main).


def amocrm_lead(lead_id: int, *, status_id: int = 47000001, price: int = 150_000) -> dict[str, Any]:
    return {
        "id": lead_id,
        "name": "Заявка с сайта",
        "price": price,
        "responsible_user_id": 504141,
        "group_id": 0,
        "status_id": status_id,
        "pipeline_id": 3177727,
        "loss_reason_id": None,
        "created_by": 504141,
        "updated_by": 504141,
        "created_at": 1764660000,
        "updated_at": 1764660000,
        "closed_at": None,
        "is_deleted": False,
        "custom_fields_values": [
            {
                "field_id": 1201,
                "field_name": "utm_source",
                "field_code": "UTM_SOURCE",
                "field_type": "tracking_data",
                "values": [{"value": "yandex"}],
            },
            {
                "field_id": 1203,
                "field_name": "utm_campaign",
                "field_code": "UTM_CAMPAIGN",
                "field_type": "tracking_data",
                "values": [{"value": "seo-autumn"}],
            },
            {
                "field_id": 1301,
                "field_name": "Канал",
                "field_code": None,
                "field_type": "select",
                "values": [{"value": "paid_search", "enum_id": 5001}],
            },
        ],
        "account_id": 28805383,
        "_links": {"self": {"href": f"https://example.amocrm.ru/api/v4/leads/{lead_id}"}},
        "_embedded": {
            "tags": [],
            "contacts": [{"id": 7143599, "is_main": True}],
            "companies": [],
        },
    }


# Contact model of GET /api/v4/contacts/{id}:
# https://www.amocrm.ru/developers/content/crm_platform/contacts-api
AMOCRM_CONTACT: dict[str, Any] = {
    "id": 7143599,
    "name": "Ирина Соколова",
    "first_name": "Ирина",
    "last_name": "Соколова",
    "custom_fields_values": [
        {
            "field_id": 3,
            "field_name": "Телефон",
            "field_code": "PHONE",
            "field_type": "multitext",
            "values": [{"value": "+7 912 000 00 00", "enum_id": 1, "enum_code": "WORK"}],
        },
        {
            "field_id": 5,
            "field_name": "Email",
            "field_code": "EMAIL",
            "field_type": "multitext",
            "values": [{"value": "irina@stroymarket.ru", "enum_id": 7, "enum_code": "WORK"}],
        },
    ],
}

AMOCRM_SUBDOMAIN = "agency"


def amocrm_added(*lead_ids: int) -> str:
    """The webhook of leads added, as amoCRM posts it (x-www-form-urlencoded):
    https://www.amocrm.ru/developers/content/crm_platform/webhooks-format"""
    fields: dict[str, str] = {}
    for i, lead_id in enumerate(lead_ids):
        fields[f"leads[add][{i}][id]"] = str(lead_id)
        fields[f"leads[add][{i}][status_id]"] = "47000001"
        fields[f"leads[add][{i}][pipeline_id]"] = "3177727"
    fields["account[id]"] = "28805383"
    fields["account[subdomain]"] = AMOCRM_SUBDOMAIN
    return urlencode(fields)


def amocrm_status(lead_id: int, status_id: int, old_status_id: int = 47000001) -> str:
    """A lead's status change (same source): leads[status][0][...]."""
    return urlencode(
        {
            "leads[status][0][id]": str(lead_id),
            "leads[status][0][status_id]": str(status_id),
            "leads[status][0][pipeline_id]": "3177727",
            "leads[status][0][old_status_id]": str(old_status_id),
            "account[id]": "28805383",
            "account[subdomain]": AMOCRM_SUBDOMAIN,
        }
    )


# ------------------------------------------------------------------------------ Bitrix24
# The outbound event ONCRMLEADADD / ONCRMLEADUPDATE, x-www-form-urlencoded:
# https://apidocs.bitrix24.com/api-reference/crm/leads/events/on-crm-lead-add.html
# (event, event_handler_id, data[FIELDS][ID], ts, auth[domain], auth[client_endpoint],
# auth[server_endpoint], auth[member_id], auth[application_token]).
BITRIX24_DOMAIN = "agency.bitrix24.ru"


def bitrix24_event(event: str, lead_id: int, token: str, ts: int = 1764660000) -> str:
    return urlencode(
        {
            "event": event,
            "event_handler_id": "17",
            "data[FIELDS][ID]": str(lead_id),
            "ts": str(ts),
            "auth[domain]": BITRIX24_DOMAIN,
            "auth[client_endpoint]": f"https://{BITRIX24_DOMAIN}/rest/",
            "auth[server_endpoint]": "https://oauth.bitrix.info/rest/",
            "auth[member_id]": "a223c6b3710f85df22e9377d6c4f7553",
            "auth[application_token]": token,
        }
    )


# crm.item.get with entityTypeId=1 answers {"result": {"item": {...}}} with the lead's fields
# in camelCase: https://apidocs.bitrix24.com/api-reference/crm/universal/crm-item-get.html
# and the lead fields of https://apidocs.bitrix24.com/api-reference/crm/universal/object-fields.html
def bitrix24_item(lead_id: int, *, status_id: str = "NEW") -> dict[str, Any]:
    return {
        "id": lead_id,
        "title": "Лид с сайта",
        "name": "Павел",
        "lastName": "Орлов",
        "companyTitle": "ТехноСтрой",
        "sourceId": "WEB",
        "statusId": status_id,
        "opportunity": 90000,
        "currencyId": "RUB",
        "comments": "Нужно продвижение интернет-магазина, какой бюджет?",
        "createdTime": "2026-12-01T10:15:00+03:00",
        "utmSource": "google",
        "utmMedium": "cpc",
        "utmCampaign": "brand",
        "fm": [
            {"id": 11, "typeId": "EMAIL", "valueType": "WORK", "value": "p.orlov@technostroy.ru"},
            {"id": 12, "typeId": "PHONE", "valueType": "WORK", "value": "+7 495 000 00 00"},
        ],
        "entityTypeId": 1,
    }


# ------------------------------------------------------------------------------ HubSpot
# Webhook events (a JSON array): https://developers.hubspot.com/docs/api/webhooks
# ("Webhook payloads": objectId, propertyName, propertyValue, changeSource, eventId,
# subscriptionId, portalId, appId, occurredAt, subscriptionType, attemptNumber).
def hubspot_events(*events: dict[str, Any]) -> list[dict[str, Any]]:
    base = {"subscriptionId": 2881778, "portalId": 62515, "appId": 1160452, "attemptNumber": 0}
    return [{**base, **event} for event in events]


def hubspot_created(event_id: int, contact_id: int) -> dict[str, Any]:
    return {
        "eventId": event_id,
        "subscriptionType": "contact.creation",
        "objectId": contact_id,
        "occurredAt": 1764660000000,
        "changeSource": "CRM_UI",
    }


def hubspot_changed(event_id: int, contact_id: int, name: str, value: str) -> dict[str, Any]:
    return {
        "eventId": event_id,
        "subscriptionType": "contact.propertyChange",
        "objectId": contact_id,
        "propertyName": name,
        "propertyValue": value,
        "occurredAt": 1764660100000,
        "changeSource": "CRM_UI",
    }


# GET /crm/v3/objects/contacts/{id}: {"id", "properties", "createdAt", "updatedAt",
# "archived"}: https://developers.hubspot.com/docs/api/crm/contacts
def hubspot_contact(contact_id: int, *, lead_status: str = "NEW") -> dict[str, Any]:
    return {
        "id": str(contact_id),
        "properties": {
            "createdate": "2026-12-01T09:00:00.000Z",
            "email": "anna@greenlogistics.com",
            "firstname": "Anna",
            "lastname": "Berg",
            "company": "Green Logistics",
            "phone": "+46 8 000 00 00",
            "hs_analytics_source": "ORGANIC_SEARCH",
            "hs_lead_status": lead_status,
            "hs_object_id": str(contact_id),
            "lastmodifieddate": "2026-12-01T09:00:00.000Z",
        },
        "createdAt": "2026-12-01T09:00:00.000Z",
        "updatedAt": "2026-12-01T09:00:00.000Z",
        "archived": False,
    }
