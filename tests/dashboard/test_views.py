"""The dashboard's server side: the login gate, the page's headers, the access check."""

from __future__ import annotations

import json
import re

from accounts.tokens import COOKIE_NAME, issue_token
from dashboard.access import APIS
from dashboard.bootstrap import EVENT_TONES
from jobqueue import states


def signed_in(client, user):
    client.cookies[COOKIE_NAME] = str(issue_token(user))
    return client


def test_dashboard_redirects_to_login_without_a_valid_cookie(client, db):
    response = client.get("/?x=1")
    assert response.status_code == 302
    assert response["Location"] == "/login?next=%2F%3Fx%3D1"
    client.cookies[COOKIE_NAME] = "forged.token.value"
    assert client.get("/").status_code == 302
    page = client.get("/login")
    assert page.status_code == 200
    assert b'id="login-form"' in page.content


def test_dashboard_page_for_a_signed_in_user_has_strict_headers(client, make_user):
    signed_in(client, make_user("alice"))
    response = client.get("/")
    assert response.status_code == 200
    assert b'src="/static/dashboard/app.js"' in response.content
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert response["Cache-Control"] == "no-store"
    # already signed in: the login page forwards, but only to paths of this site
    assert client.get("/login?next=/%23/jobs")["Location"] == "/#/jobs"
    assert client.get("/login?next=https://evil.example/")["Location"] == "/"
    assert client.get("/login?next=//evil.example/")["Location"] == "/"


def test_logout_endpoint_clears_the_cookie(client, make_user):
    signed_in(client, make_user("alice"))
    response = client.post("/logout")
    assert response.status_code == 302 and response["Location"] == "/login"
    assert response.cookies[COOKIE_NAME].value == ""
    assert client.get("/logout").status_code == 405


def test_access_is_decided_by_the_permission_engine(client, make_user):
    names = ["app.jobs.Report", "app.jobs.Secret", "other.Job"]
    signed_in(
        client,
        make_user(
            "bob",
            perm=[
                "api://core4.api.v1.request.queue.history.*",
                "api://core4.api.v1.request.job.JobRequest/r",
                "job://app\\.jobs\\.Rep/x",
                "job://app\\.jobs/r",
            ],
        ),
    )
    response = client.get("/dashboard/access", {"names": json.dumps(names)})
    assert response.status_code == 200
    data = response.json()["data"]
    assert data["user"] == "bob" and data["admin"] is False
    assert data["api"]["queue_history"]["r"] and data["api"]["jobs_history"]["r"]
    assert data["api"]["job"] == {"r": True, "c": False, "u": False, "d": False}
    assert not data["api"]["event"]["r"] and not data["api"]["system"]["r"]
    assert data["jobs"] == {
        "app.jobs.Report": {"read": True, "execute": True},
        "app.jobs.Secret": {"read": True, "execute": False},
        "other.Job": {"read": False, "execute": False},
    }
    assert data["execute_any"] is True
    assert data["handlers"]["job"] == "core4.api.v1.request.job.JobRequest"


def test_access_for_admin_and_for_nobody(client, make_user):
    signed_in(client, make_user("root", perm=["cop"]))
    data = client.get("/dashboard/access", {"names": '["x.Y"]'}).json()["data"]
    assert data["admin"] and data["execute_any"] and data["jobs"]["x.Y"]["execute"]
    assert all(all(letters.values()) for letters in data["api"].values())
    client.cookies.clear()
    response = client.get("/dashboard/access")
    assert response.status_code == 401
    assert response.json()["code"] == 401
    signed_in(client, make_user("carol"))
    assert client.get("/dashboard/access", {"names": "not json"}).status_code == 400


def test_the_page_carries_the_servers_vocabulary_as_json(client, make_user):
    """States, event names and handler names come from the server, not re-typed in JS."""
    signed_in(client, make_user("alice"))
    response = client.get("/")
    html = response.content.decode()
    found = re.search(
        r'<script id="dashboard-bootstrap" type="application/json">(.*?)</script>', html, re.S
    )
    assert found, "no bootstrap JSON in the page"
    data = json.loads(found.group(1))
    assert data["states"] == list(states.STATES)
    assert data["unfinished"] == list(states.UNFINISHED)
    assert data["restartable"] == list(states.RESTARTABLE)
    assert list(data["events"]) == list(states.EVENTS)
    assert data["unauthorized"] == "UnauthorizedJob"
    assert data["handlers"] == APIS
    assert data["handlers"]["roles"] == "core4.api.v1.request.role.main.RoleHandler"
    # data, not a script: the CSP still allows no inline script
    assert "unsafe-inline" not in response["Content-Security-Policy"]
    assert len(re.findall(r"<script(?![^>]*(?:src=|application/json))", html)) == 0
    # the login page has no use for it
    client.cookies.clear()
    assert b"dashboard-bootstrap" not in client.get("/login").content


def test_every_event_has_a_tone():
    assert set(EVENT_TONES) == set(states.EVENTS)
    assert set(EVENT_TONES.values()) <= {"info", "run", "ok", "warn", "bad", "muted"}
