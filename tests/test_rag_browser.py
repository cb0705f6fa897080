"""Document RAG in the real app, browser and local LLM: upload a small document, ask about
it, and see the answer cite the uploaded passage, shown with its source and section."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from tests.test_ui_browser import login, send, wait_for_text

pytestmark = pytest.mark.slow

NOTES = """# Project Heron

## Codename

The field-test codename of Project Heron is BLUEBIRD-7, chosen by the robotics team.
"""


@pytest.mark.parametrize("users", ["", "ada:lovelace"], ids=["local-user", "password-login"])
def test_upload_ask_and_see_the_cited_passage(app_server, browser_page, tmp_path: Path, users: str):
    page = browser_page
    server = app_server(GENAI101_USERS=users) if users else app_server()
    login(page, server.url)
    # The chat settings arrive over the websocket once the server has created this tab's
    # session; a file dropped before that is refused ("Session not found", 404) while the
    # page still shows it attached. After a password login that gap lasted seconds.
    page.wait_for_selector("#chat-settings-open-modal", timeout=60_000)
    notes = tmp_path / "heron-notes.md"
    notes.write_text(NOTES)

    # Wait for the upload itself: a message sent before it completes goes without the file.
    with page.expect_response(lambda r: "/project/file" in r.url, timeout=60_000) as upload:
        page.set_input_files("input[type=file]", str(notes))
    assert upload.value.status == 200, upload.value.text()
    page.wait_for_selector("text=heron-notes.md", timeout=30_000)
    # The page records the server's file id only after reading the response body; a message
    # sent in that gap goes without the file (seen under load).
    page.wait_for_timeout(3_000)
    send(page, "Search my documents: what is the field-test codename of Project Heron?")

    wait_for_text(page, r"heron-notes\.md\W+1 chunk")
    # The retrieved passages show as soon as the tool returns, before the answer.
    body = wait_for_text(page, r"\[\d\] heron-notes\.md › Codename", timeout_s=300)
    assert re.search(r"BLUEBIRD-7", body)
    # The answer itself (not the artifact's score table and passages) gives the codename.
    deadline = time.monotonic() + 300
    answers: list[str] = []
    while time.monotonic() < deadline:
        answers = page.locator(".message-content").all_inner_texts()
        if any("BLUEBIRD" in a and "score" not in a for a in answers):
            break
        page.wait_for_timeout(500)
    assert any("BLUEBIRD" in a and "score" not in a for a in answers), answers
