"""Element files over HTTP: only their owner gets them, user content never runs in the page,
and an element's name cannot choose where its file is stored."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import chainlit as cl
import pytest
from chainlit.auth import create_jwt
from chainlit.context import init_http_context
from fastapi import FastAPI
from fastapi.testclient import TestClient

from ui.data_layer import FILES_ROUTE, SQLiteDataLayer, add_files_route

SANDBOX = "default-src 'none'; sandbox"


@pytest.fixture
async def layer(tmp_path, monkeypatch) -> AsyncIterator[SQLiteDataLayer]:
    # Chainlit asks for a login as soon as any auth is configured; this flag is its switch.
    monkeypatch.setenv("CHAINLIT_CUSTOM_AUTH", "1")
    monkeypatch.setenv("CHAINLIT_AUTH_SECRET", "test-secret-" + "x" * 40)
    init_http_context()  # Chainlit's data layer methods look for a request context
    layer = SQLiteDataLayer(tmp_path / "threads.sqlite", tmp_path / "files")
    yield layer
    await layer.close()


async def thread_of(layer: SQLiteDataLayer, identifier: str) -> str:
    user = await layer.create_user(cl.User(identifier=identifier))
    thread_id = str(uuid.uuid4())
    await layer.update_thread(thread_id, user_id=user.id)
    return thread_id


async def stored(layer: SQLiteDataLayer, thread_id: str, name: str, content: bytes, mime: str):
    element = cl.File(
        name=name, content=content, mime=mime, thread_id=thread_id, for_id=str(uuid.uuid4())
    )
    await layer.create_element(element)
    rows = await layer.execute_sql(
        'SELECT "objectKey", "url" FROM elements WHERE "id" = :id', {"id": element.id}
    )
    return element, rows[0]


def client_for(layer: SQLiteDataLayer, identifier: str | None) -> TestClient:
    app = FastAPI()
    add_files_route(app, lambda: layer)
    client = TestClient(app)
    if identifier:
        client.cookies.set("access_token", create_jwt(cl.User(identifier=identifier)))
    return client


async def test_files_need_a_login_and_belong_to_their_thread_owner(layer):
    _, row = await stored(layer, await thread_of(layer, "ada"), "notes.txt", b"ada's", "text/plain")
    assert row["url"] == f"{FILES_ROUTE}/{row['objectKey']}"

    assert client_for(layer, None).get(row["url"]).status_code == 401
    assert client_for(layer, "bob").get(row["url"]).status_code == 404  # not even "exists"
    got = client_for(layer, "ada").get(row["url"])
    assert got.status_code == 200 and got.content == b"ada's"


async def test_a_forged_token_is_refused(layer):
    _, row = await stored(layer, await thread_of(layer, "ada"), "notes.txt", b"x", "text/plain")
    client = client_for(layer, None)
    client.cookies.set("access_token", "not-a-token")
    assert client.get(row["url"]).status_code == 401


async def test_uploaded_html_is_a_download_that_cannot_run(layer):
    thread = await thread_of(layer, "ada")
    _, row = await stored(layer, thread, "page.html", b"<script>alert(1)</script>", "text/html")
    got = client_for(layer, "ada").get(row["url"])
    assert got.status_code == 200
    assert got.headers["content-type"] == "application/octet-stream"
    assert got.headers["content-disposition"] == 'attachment; filename="page.html"'
    assert got.headers["x-content-type-options"] == "nosniff"
    assert got.headers["content-security-policy"] == SANDBOX


async def test_images_and_plain_text_show_inline_still_sandboxed(layer):
    thread = await thread_of(layer, "ada")
    ada = client_for(layer, "ada")
    _, png = await stored(layer, thread, "plot.png", b"\x89PNG\r\n\x1a\n", "image/png")
    _, md = await stored(layer, thread, "notes.md", b"# Notes", "text/markdown")
    _, svg = await stored(layer, thread, "x.svg", b"<svg onload='alert(1)'/>", "image/svg+xml")
    image, text, vector = ada.get(png["url"]), ada.get(md["url"]), ada.get(svg["url"])
    assert image.headers["content-type"] == "image/png"
    assert text.headers["content-type"] == "text/plain; charset=utf-8"
    assert "content-disposition" not in image.headers and "content-disposition" not in text.headers
    assert vector.headers["content-disposition"].startswith("attachment")  # SVG can script
    for response in (image, text, vector):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["content-security-policy"] == SANDBOX


async def test_an_element_name_cannot_rewrite_another_users_file(layer, tmp_path):
    ada_thread = await thread_of(layer, "ada")
    ada_element, ada_row = await stored(
        layer, ada_thread, "report.md", b"ada's report", "text/plain"
    )
    ada_file = Path(tmp_path / "files" / ada_row["objectKey"])
    ada_user = ada_row["objectKey"].split("/")[0]

    bob_thread = await thread_of(layer, "bob")
    evil = f"../../{ada_user}/{ada_element.id}/report.md"
    _, bob_row = await stored(layer, bob_thread, evil, b"bob was here", "text/plain")

    assert ada_file.read_bytes() == b"ada's report"
    assert ".." not in bob_row["objectKey"] and "report.md" not in bob_row["objectKey"]
    assert (tmp_path / "files" / bob_row["objectKey"]).read_bytes() == b"bob was here"


async def test_a_dot_dot_name_is_stored_like_any_other(layer, tmp_path):
    thread = await thread_of(layer, "ada")
    _, first = await stored(layer, thread, "first.txt", b"first", "text/plain")
    element, row = await stored(layer, thread, "..", b"dots", "text/plain")
    assert row["objectKey"].endswith(f"/{element.id}")
    assert (tmp_path / "files" / row["objectKey"]).read_bytes() == b"dots"
    assert (tmp_path / "files" / first["objectKey"]).read_bytes() == b"first"
    got = client_for(layer, "ada").get(row["url"])
    assert got.content == b"dots"
