"""The fake Google server is as strict as Google where SPEC §5 says so (checked with plain HTTP requests)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import requests

from idealweek.model import utc
from tests.fakes.google_server import GoogleFake

T0 = utc(2030, 3, 4, 9)
H = timedelta(hours=1)


class Client:
    """A bare HTTP client for the fake (no Google library in between)."""

    def __init__(self, fake: GoogleFake) -> None:
        self.fake = fake
        self.token = json.loads(fake.issue_token())["token"]
        self.session = requests.Session()

    def call(
        self, method: str, path: str, *, params: Any = None, body: Any = None, headers: dict[str, str] | None = None
    ) -> requests.Response:
        hdrs = {"Authorization": f"Bearer {self.token}", **(headers or {})}
        return self.session.request(
            method, self.fake.api_root + path, params=params, json=body, headers=hdrs, timeout=10
        )

    def insert(self, body: dict[str, Any]) -> requests.Response:
        return self.call("POST", "calendars/primary/events", params={"sendUpdates": "none"}, body=body)


def event_body(**extra: Any) -> dict[str, Any]:
    return {
        "summary": "x",
        "start": {"dateTime": "2030-03-04T09:00:00Z"},
        "end": {"dateTime": "2030-03-04T10:00:00Z"},
        **extra,
    }


@pytest.fixture
def fake() -> Iterator[GoogleFake]:
    with GoogleFake(page_size=2) as f:
        yield f


@pytest.fixture
def client(fake: GoogleFake) -> Iterator[Client]:
    c = Client(fake)
    yield c
    c.session.close()


def reason(resp: requests.Response) -> str:
    return str(resp.json()["error"]["errors"][0]["reason"])


@pytest.mark.parametrize(
    "extra",
    [
        {"timeMin": "2030-01-01T00:00:00Z"},
        {"timeMax": "2030-01-01T00:00:00Z"},
        {"orderBy": "updated"},
        {"q": "x"},
        {"updatedMin": "2030-01-01T00:00:00Z"},
        {"iCalUID": "x@google.com"},
        {"privateExtendedProperty": "a=b"},
    ],
)
def test_sync_token_with_forbidden_parameter_is_400(fake: GoogleFake, client: Client, extra: dict[str, str]) -> None:
    """syncToken combined with a parameter Google forbids is a 400 in Google's error format."""
    token = client.call("GET", "calendars/primary/events").json()["nextSyncToken"]
    resp = client.call("GET", "calendars/primary/events", params={"syncToken": token, **extra})
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == 400 and resp.json()["error"]["errors"][0]["domain"] == "global"


def test_pages_repeat_the_sync_token_and_only_the_last_has_a_new_one(fake: GoogleFake, client: Client) -> None:
    """Pages carry nextPageToken until the last, which alone has nextSyncToken; a page needs the same syncToken."""
    token = client.call("GET", "calendars/primary/events").json()["nextSyncToken"]
    for i in range(5):
        fake.user_add("primary", f"e{i}", T0 + i * H, T0 + (i + 1) * H)
    first = client.call("GET", "calendars/primary/events", params={"syncToken": token}).json()
    assert "nextSyncToken" not in first and len(first["items"]) == 2
    wrong = client.call("GET", "calendars/primary/events", params={"pageToken": first["nextPageToken"]})
    assert wrong.status_code == 400
    page, seen = first, list(first["items"])
    while "nextPageToken" in page:
        page = client.call(
            "GET", "calendars/primary/events", params={"syncToken": token, "pageToken": page["nextPageToken"]}
        ).json()
        seen += page["items"]
    assert "nextSyncToken" in page and len(seen) == 5


def test_empty_pages_still_point_to_the_next(client: Client) -> None:
    """With empty pages on, a page may hold no items and still carry nextPageToken."""
    client.fake.empty_pages = True
    for i in range(5):
        client.fake.user_add("primary", f"e{i}", T0, T0 + H)
    page = client.call("GET", "calendars/primary/events").json()
    assert page["items"] == [] and "nextPageToken" in page


def test_expired_sync_token_is_410_full_sync_required(fake: GoogleFake, client: Client) -> None:
    """An expired sync token answers 410 with reason fullSyncRequired."""
    token = client.call("GET", "calendars/primary/events").json()["nextSyncToken"]
    fake.expire_sync_tokens()
    resp = client.call("GET", "calendars/primary/events", params={"syncToken": token})
    assert resp.status_code == 410 and reason(resp) == "fullSyncRequired"


def test_max_results_above_2500_is_refused(client: Client) -> None:
    """maxResults is at most 2500."""
    assert client.call("GET", "calendars/primary/events", params={"maxResults": 2501}).status_code == 400


def test_unknown_event_field_is_400(client: Client) -> None:
    """A body field the Event schema does not know is refused."""
    resp = client.insert(event_body(colour="red"))
    assert resp.status_code == 400 and "Unknown name" in resp.json()["error"]["message"]
    resp = client.insert(event_body(start={"dateTime": "2030-03-04T09:00:00Z", "tz": "UTC"}))
    assert resp.status_code == 400


def test_client_ids_must_be_base32hex(client: Client) -> None:
    """Client-supplied ids must be base32hex and 5–1024 long."""
    assert client.insert(event_body(id="abcw0")).status_code == 400
    assert client.insert(event_body(id="abc")).status_code == 400
    assert client.insert(event_body(id="abcv0")).status_code == 200


def test_reused_id_is_409_also_after_delete(fake: GoogleFake, client: Client) -> None:
    """A second insert with the same id is 409 duplicate, also once the first was deleted; deleting twice is 410."""
    assert client.insert(event_body(id="abcde")).status_code == 200
    dup = client.insert(event_body(id="abcde"))
    assert dup.status_code == 409 and reason(dup) == "duplicate"
    assert client.call("DELETE", "calendars/primary/events/abcde").status_code == 204
    assert client.insert(event_body(id="abcde")).status_code == 409
    assert client.call("DELETE", "calendars/primary/events/abcde").status_code == 410


def test_if_match_is_checked_and_header_names_are_case_insensitive(client: Client) -> None:
    """If-Match with a stale etag is 412; header names are matched case-insensitively."""
    created = client.insert(event_body(id="abcdf")).json()
    stale = client.call("PATCH", "calendars/primary/events/abcdf", body={"summary": "y"}, headers={"IF-MATCH": '"1"'})
    assert stale.status_code == 412
    ok = client.call(
        "PATCH", "calendars/primary/events/abcdf", body={"summary": "y"}, headers={"if-match": created["etag"]}
    )
    assert ok.status_code == 200 and ok.json()["etag"] != created["etag"]
    lower = client.session.get(
        client.fake.api_root + "calendars/primary/events", headers={"authorization": f"bearer {client.token}"}
    )
    assert lower.status_code == 200


def test_extended_properties_limits(client: Client) -> None:
    """Private property keys over 44 characters are dropped, values over 1024 truncated, silently."""
    props = {"k" * 44: "ok", "k" * 45: "dropped", "long": "v" * 2000}
    created = client.insert(event_body(extendedProperties={"private": props}))
    assert created.status_code == 200
    stored = created.json()["extendedProperties"]["private"]
    assert set(stored) == {"k" * 44, "long"} and len(stored["long"]) == 1024


def test_update_drops_unsent_properties_and_patch_keeps_them(client: Client) -> None:
    """PUT replaces the event (unsent extendedProperties vanish); PATCH keeps what it does not send."""
    client.insert(event_body(id="abcdg", extendedProperties={"private": {"a": "1"}}, location="here"))
    patched = client.call("PATCH", "calendars/primary/events/abcdg", body={"summary": "p"}).json()
    assert patched["extendedProperties"]["private"] == {"a": "1"} and patched["location"] == "here"
    merged = client.call(
        "PATCH", "calendars/primary/events/abcdg", body={"extendedProperties": {"private": {"b": "2"}}}
    ).json()
    assert merged["extendedProperties"]["private"] == {"a": "1", "b": "2"}
    replaced = client.call("PUT", "calendars/primary/events/abcdg", body=event_body()).json()
    assert "extendedProperties" not in replaced and "location" not in replaced


def test_bad_or_expired_bearer_token_is_401(fake: GoogleFake, client: Client) -> None:
    """Requests without a valid access token get 401; expired tokens too."""
    anon = client.session.get(fake.api_root + "calendars/primary/events")
    assert anon.status_code == 401 and reason(anon) == "authError"
    fake.expire_access_tokens()
    assert client.call("GET", "calendars/primary/events").status_code == 401


def test_rate_limit_faults_look_like_google(fake: GoogleFake, client: Client) -> None:
    """Injected 429/403 answers carry Google's error body and Retry-After when asked."""
    fake.fail(429, retry_after="3")
    fake.fail(403, reason="userRateLimitExceeded")
    first = client.call("GET", "calendars/primary/events")
    assert first.status_code == 429 and first.headers["Retry-After"] == "3" and reason(first) == "rateLimitExceeded"
    second = client.call("GET", "calendars/primary/events")
    assert second.status_code == 403 and reason(second) == "userRateLimitExceeded"
    assert "Retry-After" not in second.headers
    assert client.call("GET", "calendars/primary/events").status_code == 200


def test_unknown_query_parameter_is_refused(client: Client) -> None:
    """A query parameter the method does not have is a 400."""
    assert client.call("GET", "calendars/primary/events", params={"singleEvent": "true"}).status_code == 400


def test_attendees_with_updates_would_mail(fake: GoogleFake, client: Client) -> None:
    """The fake counts the invitations Google would mail, so tests can insist on none."""
    body = event_body(attendees=[{"email": "boss@example.com"}])
    client.call("POST", "calendars/primary/events", params={"sendUpdates": "all"}, body=body)
    assert fake.mails == 1
