"""Datasette plugin: the viewer login, by form for browsers and HTTP Basic for curl.

Datasette's own permission system does the guarding (metadata.yml allows only
the viewer actor); this plugin only says who the actor is. `browse.py` hands
it the credentials through `datasette.viewer_credentials`, so they never
appear in Datasette's metadata, which viewers can read at /-/metadata.
"""

import base64
import time
from urllib.parse import quote, urlparse

from datasette import hookimpl
from datasette.utils import baseconv
from datasette.utils.asgi import Forbidden, NotFound, Response

from auth import record_failure, same_secret

SESSION_SECONDS = 7 * 24 * 3600
REALM = 'Basic realm="archive", charset="UTF-8"'


def credentials_valid(datasette, username: str, password: str) -> bool:
    """Constant-time check of a username and password against the viewer's."""
    expected_username, expected_password = datasette.viewer_credentials
    user_ok = same_secret(username, expected_username)
    password_ok = same_secret(password, expected_password)
    return user_ok & password_ok


def basic_credentials(header: str | None) -> tuple[str, str] | None:
    """Username and password from a Basic Authorization header, or None."""
    scheme, _, encoded = (header or "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except ValueError:  # not base64, not ASCII, or not UTF-8 once decoded
        return None
    username, colon, password = decoded.partition(":")
    return (username, password) if colon else None


def viewer_actor(datasette) -> dict:
    return {"id": datasette.viewer_credentials[0]}


@hookimpl
def actor_from_request(datasette, request):
    header = request.headers.get("authorization")
    if header is None:
        return None
    credentials = basic_credentials(header)
    if credentials and credentials_valid(datasette, *credentials):
        return viewer_actor(datasette)
    reason = "wrong credentials" if credentials else "malformed authorization"
    record_failure("viewer", reason, _client(request))
    return None


async def login(request, datasette):
    """GET shows the form; POST checks it and sets Datasette's signed actor cookie."""
    error = None
    next_path = _safe_next(request.args.get("next"))
    if request.method == "POST":
        form = await request.post_vars()
        next_path = _safe_next(form.get("next"))
        if credentials_valid(
            datasette, form.get("username", ""), form.get("password", "")
        ):
            return _logged_in(datasette, request, next_path)
        record_failure("viewer", "wrong login form", _client(request))
        error = "Wrong username or password."

    html = await datasette.render_template(
        "login.html", {"error": error, "next": next_path}, request=request
    )
    return Response.html(html, status=401 if error else 200)


def _client(request) -> str | None:
    client = request.scope.get("client")
    return client[0] if client else None


def _logged_in(datasette, request, next_path):
    expires = baseconv.base62.encode(int(time.time()) + SESSION_SECONDS)
    cookie = datasette.sign({"a": viewer_actor(datasette), "e": expires}, "actor")
    response = Response.redirect(next_path)
    response.set_cookie(
        "ds_actor",
        cookie,
        max_age=SESSION_SECONDS,
        httponly=True,
        secure=request.scheme == "https",
    )
    return response


def _safe_next(value: str | None) -> str:
    """Only same-site paths, so the login form cannot redirect elsewhere."""
    value = value or "/"
    parsed = urlparse(value)
    off_site = parsed.scheme or parsed.netloc or value.startswith("//")
    if off_site or not value.startswith("/") or "\\" in value:
        return "/"
    return value


async def allow_debug(request):
    """Datasette's permission debugger answers anyone; here only the viewer learns
    that it is switched off."""
    if not request.actor:
        raise Forbidden("log in to read the archive")
    raise NotFound("not available")


@hookimpl
def register_routes():
    return [(r"^/-/login$", login), (r"^/-/allow-debug$", allow_debug)]


@hookimpl
def forbidden(datasette, request, message):
    """Send browsers to the login form; ask everything else for Basic credentials."""
    if request.actor:
        return None
    path = request.path
    wants_page = "text/html" in request.headers.get("accept", "") and not path.endswith(
        (".json", ".csv")
    )
    if wants_page:
        target = request.full_path if request.query_string else path
        return Response.redirect("/-/login?next=" + quote(target, safe="/"))
    return Response.text(
        "Log in to read the archive.\n", status=401, headers={"www-authenticate": REALM}
    )


@hookimpl
def menu_links(datasette, actor, request):
    if not actor and request.path != "/-/login":
        return [{"href": datasette.urls.path("/-/login"), "label": "Log in"}]
