"""The chat page in Debian's Chromium via selenium, in terms of what a person sees and does (the app itself is
tests.servers.ChatServer)."""

from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
CHROME_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
               "--disable-dev-shm-usage", "--window-size=1400,1100"]
ANSWER_TIMEOUT = 90
# Counts the page's finished fetches (Gradio's client sends every event with fetch), so a test can wait for the
# server to have handled an event instead of sleeping.
COUNT_REQUESTS = """
if (!window.__requests) {
  const counts = window.__requests = {done: 0};
  const fetch = window.fetch;
  window.fetch = function (...args) { return fetch.apply(this, args).finally(() => { counts.done += 1; }); };
}
"""


def chrome(user_data_dir: str | None = None):
    """A headless Debian Chromium with a fresh profile (the caller quits it)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in CHROME_ARGS:
        options.add_argument(arg)
    options.add_argument(f"--user-data-dir={user_data_dir or tempfile.mkdtemp(prefix='chromium-')}")
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(60)
    driver.set_script_timeout(30)
    return driver


class ChatPage:
    """The chat page in one browser session, in terms of what a person sees and does."""

    def __init__(self, driver, url: str):
        self.driver = driver
        self.url = url

    def open(self) -> "ChatPage":
        self.driver.get(self.url)
        self.wait(lambda d: d.find_elements("css selector", "#question textarea"), 60, "the page did not load")
        self.js(COUNT_REQUESTS)
        return self

    def answered(self, action, timeout: float = 20, what: str = "the page's request") -> None:
        """Runs action (a click, a key) and waits until the server has answered the request it makes: the page's
        own events (the selection, a blur) change state on the server, which later events read."""
        before = self.js("return window.__requests.done")
        action()
        self.wait(lambda d: self.js("return window.__requests.done") > before, timeout, f"{what} got no answer")

    def wait(self, condition, timeout: float = ANSWER_TIMEOUT, message: str = ""):
        from selenium.webdriver.support.ui import WebDriverWait

        return WebDriverWait(self.driver, timeout, poll_frequency=0.25).until(condition, message)

    def js(self, script: str, *args):
        return self.driver.execute_script(script, *args)

    # -- chat --------------------------------------------------------------------------------------------------
    def messages(self, role: str) -> list:
        """Message bubbles of 'user' or 'bot', in order."""
        return self.driver.find_elements("css selector", f'#chat [data-testid="{role}"]')

    def turns(self) -> int:
        return len(self.driver.find_elements("css selector", "#sources .src-turn"))

    def ask(self, question: str, timeout: float = ANSWER_TIMEOUT):
        """Type a question, press Enter, wait until the answer is final; returns the last bot bubble."""
        from selenium.webdriver.common.keys import Keys

        turns, bots = self.turns(), len(self.messages("bot"))
        box = self.driver.find_element("css selector", "#question textarea")
        box.clear()
        box.send_keys(question)
        box.send_keys(Keys.ENTER)
        self.wait(lambda d: self.turns() > turns or (len(self.messages("bot")) > bots and self._failed()),
                  timeout, f"no answer to {question!r} within {timeout} s")
        return self.messages("bot")[-1]

    def _failed(self) -> bool:
        bots = self.messages("bot")
        return bool(bots) and bool(bots[-1].find_elements("css selector", ".chat-error"))

    def last_answer(self) -> str:
        return self.messages("bot")[-1].text

    def latest_sources(self):
        """Source cards of the newest answer (the panel lists newest first)."""
        return self.driver.find_elements("css selector", "#sources .src-turn:first-child .src-card")

    # -- uploads and settings ----------------------------------------------------------------------------------
    def upload(self, *paths: Path, timeout: float = 120) -> str:
        """Upload files through the page's file input; returns the upload status text once ingestion is done."""
        before = self.js("return document.querySelector('#upload-status')?.innerText || ''")
        field = self.driver.find_element("css selector", "#upload input[type=file]")
        field.send_keys("\n".join(str(p) for p in paths))
        self.wait(lambda d: (text := d.find_element("css selector", "#upload-status").text) and text != before
                  and re.search(r"\d+ added", text), timeout, f"upload of {[p.name for p in paths]} did not finish")
        return self.driver.find_element("css selector", "#upload-status").text

    def open_settings(self) -> None:
        if not self.driver.find_elements("css selector", "#collection textarea, #collection input"):
            self.driver.find_element("css selector", "#settings button").click()
            self.wait(lambda d: d.find_elements("css selector", "#collection textarea, #collection input"), 10)

    def set_collection(self, name: str) -> None:
        self.open_settings()
        box = self.driver.find_element("css selector", "#collection textarea, #collection input")
        box.clear()
        box.send_keys(name)
        self.wait(lambda d: box.get_attribute("value") == name, 5)
        self.answered(lambda: box.send_keys("\t"), what="the collection's blur event")  # the listing refreshes


class DocumentsPanel:
    """The page's documents panel: the listing, the selection, scoping, removal and the conversation export."""

    def __init__(self, page: ChatPage):
        self.page = page
        self.driver = page.driver

    def names(self) -> list[str]:
        return self.page.js("return [...document.querySelectorAll('#doc-table .doc-name')].map(e => e.innerText)")

    def scope(self) -> str:
        """The scope notice above the chat box; empty while questions draw on every document."""
        return self.page.js("const e = document.querySelector('#scope-text'); "
                            "return e && e.offsetParent !== null ? e.innerText : ''")

    def wait_listed(self, expected: set[str], timeout: float = 30) -> list[str]:
        """Waits until the listing shows exactly these names."""
        self.page.wait(lambda d: set(self.names()) == expected, timeout,
                       f"the documents panel did not come to list {sorted(expected)}")
        return self.names()

    def select(self, *names: str) -> None:
        for name in names:  # by script: the panel re-renders its boxes, so a held element can go stale
            self.page.wait(lambda d: self.page.js(
                "return [...document.querySelectorAll('#doc-pick label')].some(l => l.innerText.trim() === "
                "arguments[0])", name), 20, f"no checkbox for {name}")
            # The selection is kept on the server (the input event); scoping and removal read it from there.
            self.page.answered(lambda: self.page.js(
                "[...document.querySelectorAll('#doc-pick label')].find(l => l.innerText.trim() === arguments[0])"
                ".click()", name), what=f"selecting {name}")

    def _click(self, elem_id: str) -> None:
        self.page.wait(lambda d: self.page.js("const b = document.getElementById(arguments[0]); "
                                              "if (!b || b.disabled) return false; b.click(); return true;", elem_id),
                       20, f"#{elem_id} is not there to click")

    def scope_to_selected(self) -> str:
        """Scopes the next questions to the selection; returns the notice shown above the chat box."""
        self._click("doc-scope")
        self.page.wait(lambda d: "Answering only from" in self.scope(), 20, "no scope notice above the chat box")
        return self.scope()

    def unscope(self) -> None:
        self._click("unscope")
        self.page.wait(lambda d: not self.scope(), 20, "the scope notice stayed")

    def remove_selected(self) -> str:
        """Asks to remove the selection, reads the confirmation, confirms; returns the confirmation's text."""
        self._click("doc-remove")
        self.page.wait(lambda d: d.find_elements("css selector", "#doc-remove-yes")
                       and d.find_element("css selector", "#doc-remove-yes").is_displayed(), 20, "no confirmation")
        question = self.driver.find_element("css selector", "#doc-confirm").text
        self._click("doc-remove-yes")
        self.page.wait(lambda d: "Removed" in d.find_element("css selector", "#doc-status").text, 60,
                       "the removal did not finish")
        return question

    def download(self, elem_id: str, folder: Path, name: str, timeout: float = 30) -> Path:
        """Clicks a download button and returns the file once the browser has saved it into folder."""
        folder.mkdir(parents=True, exist_ok=True)
        self.driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(folder)})
        self._click(elem_id)
        target = folder / name
        self.page.wait(lambda d: target.exists() and target.stat().st_size > 0, timeout, f"{name} was not downloaded")
        return target


if __name__ == "__main__":  # a manual look: python -m tests.ui.browser URL -> screenshot.png
    driver = chrome()
    try:
        ChatPage(driver, sys.argv[1]).open()
        driver.save_screenshot("screenshot.png")
    finally:
        driver.quit()
