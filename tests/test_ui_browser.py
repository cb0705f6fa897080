"""The real app in a real browser, with the real local LLM: log in, chat with a streamed
answer, see a tool step, restart the server and resume the thread with its history."""

from __future__ import annotations

import re
import time

import pytest
from langgraph.checkpoint.sqlite import SqliteSaver

from core.settings import Settings

pytestmark = pytest.mark.slow

ASSISTANT = ".step:not(.user-message) .message-content, [data-step-type='assistant_message']"


def login(page, url: str) -> None:
    """Log in as ada, unless the browser's session is still valid (after a restart it is:
    the auth secret is the same)."""
    page.goto(url)
    page.wait_for_selector("#chat-input, input[type=password]", timeout=60_000)
    if page.locator("input[type=password]").count():
        page.locator("input:not([type=password]):visible").first.fill("ada")
        page.fill("input[type=password]", "lovelace")
        page.click("button[type=submit]")
    page.wait_for_selector("#chat-input", timeout=60_000)


def send(page, text: str, timeout_s: float = 120) -> None:
    """Type and send. After a restart the composer is enabled only once the resumed
    session is set up, which waits for the app's start-up warm-up on two busy cores, and
    the resumed thread's page may re-render the composer empty after that (seen in CI:
    enabled, then disabled for 30 s), so the text is typed again until the click lands."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:  # the composer may not be on the page yet, or be re-rendered under us
            typed = page.eval_on_selector("#chat-input", "e => e.value ?? e.textContent")
            if typed != text:
                page.fill("#chat-input", text, timeout=5_000)
            page.click("#chat-submit:not([disabled])", timeout=5_000)
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def wait_for_text(page, pattern: str, timeout_s: float = 180) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        body = page.inner_text("body")
        if re.search(pattern, body, re.IGNORECASE):
            return body
        time.sleep(0.2)
    raise AssertionError(f"{pattern!r} never appeared; page shows:\n{page.inner_text('body')}")


def history(data_dir, thread_id: str) -> list[str]:
    """The thread's messages as the agent's checkpointer saved them (sync: Playwright's sync
    API already runs an event loop in this thread)."""
    path = Settings.from_env({"data_dir": data_dir}).path("chat", "history.sqlite")
    with SqliteSaver.from_conn_string(str(path)) as cp:
        state = cp.get({"configurable": {"thread_id": thread_id}})
    return [m.content for m in (state or {}).get("channel_values", {}).get("messages", [])]


def test_login_chat_tool_step_restart_and_resume(app_server, browser_page):
    page = browser_page
    server = app_server(GENAI101_USERS="ada:lovelace")
    login(page, server.url)

    # 1. A plain question: the answer streams in (the text grows while we watch).
    send(page, "In two sentences, what is a token in a language model?")
    lengths: set[int] = set()
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        msgs = page.locator(".message-content").all_inner_texts()
        answer = msgs[-1] if len(msgs) >= 2 else ""
        if answer:
            lengths.add(len(answer))
        if page.locator("#chat-submit").count() and len(lengths) > 1 and _idle(page):
            break
        time.sleep(0.05)
    assert len(lengths) > 1, "the answer did not stream"
    assert re.search(r"token", page.inner_text("body"), re.I)

    # 2. A turn that uses a tool shows how it was routed, then the tool, as steps.
    send(
        page,
        'Use the paraphrase tool: do "The cat chased the dog." and "The dog chased the cat." mean the same?',
    )
    wait_for_text(page, r"Used\s+check_paraphrase")
    assert re.search(r"Used\s+router", page.inner_text("body"))
    thread_id = re.search(r"/thread/([\w-]+)", page.url).group(1)

    # 3. Restart the server; the thread is in the sidebar and resumes with its history.
    server.stop()
    server.start()
    login(page, server.url)
    page.click(f"a[href*='{thread_id}']", timeout=30_000)
    wait_for_text(page, r"what is a token in a language model")
    send(page, "Thanks! Say 'ok'.")
    # The turn cut by the restart is closed, and the new message gets its own answer.
    deadline = time.monotonic() + 180
    contents = history(server.data_dir, thread_id)
    while time.monotonic() < deadline and not (
        "Thanks! Say 'ok'." in contents and contents[-1] and contents[-1] != "Thanks! Say 'ok'."
    ):
        time.sleep(1)
        contents = history(server.data_dir, thread_id)
    assert contents[0].startswith("In two sentences")
    assert contents[-2] == "Thanks! Say 'ok'." and contents[-1], contents


def _idle(page) -> bool:
    """The stop button is gone once the turn has ended."""
    return page.locator("#stop-button").count() == 0


def choose(page, setting: str, value: str) -> None:
    """Pick `value` for `setting` in the chat settings panel and confirm."""
    page.click("#chat-settings-open-modal")
    page.click(f"#{setting}")
    page.get_by_role("option", name=value, exact=True).click()
    page.click("#confirm")
    page.wait_for_selector("[role=dialog]", state="detached", timeout=10_000)


def test_the_settings_panel_switches_the_paraphrase_model_per_session(tmp_path, browser_page):
    """One compiled graph serves every session: a choice in one session's settings panel
    reaches that session's tool calls (here the paraphrase model: fp32 is not on a fresh
    data folder, and the lesson says so), and a new session starts from the defaults. With
    a stand-in LLM server, so no local model runs."""
    from agent.launcher import AppProcess
    from agent.llm_server import free_port
    from tests.fakes import stand_in_chat_server

    pair = 'Do "The cat chased the dog." and "The dog chased the cat." mean the same?'
    missing = "The fp32 model is not on this machine"
    with stand_in_chat_server() as chat_url:
        env = {
            "GENAI101_PROVIDER": "openai-compatible",
            "GENAI101_BASE_URL": chat_url,
            "GENAI101_MODEL": "stand-in",
            "CHAINLIT_AUTH_SECRET": "test-secret-" + "x" * 40,
            "GENAI101_GRAPH_BOLT_PORT": str(free_port()),
            "GENAI101_GRAPH_HTTP_PORT": str(free_port()),
        }
        server = AppProcess(tmp_path / "app", tmp_path / "data", env).start()
        try:
            page = browser_page
            login(page, server.url)
            page.wait_for_selector("#chat-settings-open-modal", timeout=60_000)
            send(page, pair)
            assert missing not in wait_for_text(page, r"model: int8")
            choose(page, "paraphrase_model", "fp32")
            send(page, pair)
            wait_for_text(page, missing)

            other = page.context.browser.new_page()  # another session: the defaults
            login(other, server.url)
            other.wait_for_selector("#chat-settings-open-modal", timeout=60_000)
            send(other, pair)
            assert missing not in wait_for_text(other, r"model: int8")
            other.close()
        finally:
            server.stop()
