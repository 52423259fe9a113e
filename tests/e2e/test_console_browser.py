"""The console in a real headless Chromium (Debian's) against the twin: log in, see an incident
appear, approve its action, see it executed and audited; a viewer gets no approve button."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.console import live_console

pytestmark = pytest.mark.e2e

CHROMIUM = "/usr/bin/chromium"
DRIVER = "/usr/bin/chromedriver"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
    "--window-size=1400,1000",
]

if not (os.path.exists(CHROMIUM) and os.path.exists(DRIVER)):
    pytest.fail(
        "Debian's chromium and chromium-driver are needed: scripts/system-deps.sh installs them",
        pytrace=False,
    )

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service as DriverService  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.remote.webdriver import WebDriver  # noqa: E402
from selenium.webdriver.support import expected_conditions as ec  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[WebDriver]:
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for f in FLAGS:
        opts.add_argument(f)
    opts.add_argument(f"--user-data-dir={tmp_path / 'chromium-profile'}")
    drv = webdriver.Chrome(options=opts, service=DriverService(executable_path=DRIVER))
    try:
        yield drv
    finally:
        drv.quit()


def _login(drv: WebDriver, url: str, token: str) -> WebDriverWait[WebDriver]:
    wait = WebDriverWait(drv, 60)
    drv.get(url + "/")
    box = wait.until(ec.visibility_of_element_located((By.ID, "token")))
    box.clear()
    box.send_keys(token)
    drv.find_element(By.ID, "login").click()
    return wait


def test_operator_approves_an_action_of_a_twin_incident(browser: WebDriver, tmp_path: Path) -> None:
    drv = browser
    with live_console(tmp_path / "data") as live:
        # a wrong token is refused on the page
        wait = _login(drv, live.url, "nvk_00000000_wrong")
        wait.until(ec.text_to_be_present_in_element((By.ID, "login-error"), "refused"))
        assert not drv.find_element(By.ID, "app").is_displayed()

        wait = _login(drv, live.url, live.tokens["operator"])
        wait.until(ec.text_to_be_present_in_element((By.ID, "who"), "otto (operator)"))
        # an incident from the twin appears in the live list (polled every 2 s)
        row = wait.until(
            ec.element_to_be_clickable((By.CSS_SELECTOR, "#incidents tbody tr[data-fp]"))
        )
        fp = row.get_attribute("data-fp")
        row.click()
        wait.until(ec.visibility_of_element_located((By.ID, "detail")))
        # the picture of the affected topology and the signal timeline are drawn
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#topo circle")) >= 2)
        root = drv.find_elements(By.CSS_SELECTOR, "#topo [data-root='true']")
        assert root, "the root cause is highlighted in the picture"
        assert drv.find_elements(By.CSS_SELECTOR, "#timeline circle")
        assert drv.find_elements(By.CSS_SELECTOR, "#ranking tbody tr")

        approve = wait.until(
            ec.element_to_be_clickable((By.CSS_SELECTOR, "#actions button.approve"))
        )
        rid = approve.get_attribute("data-id")
        approve.click()
        wait.until(
            ec.text_to_be_present_in_element(
                (By.CSS_SELECTOR, f"#actions tr[data-id='{rid}']"), "executed by otto"
            )
        )
        # the audit view shows the approval and the execution
        wait.until(
            lambda d: d.find_elements(By.CSS_SELECTOR, "#audit tr[data-action='action.executed']")
        )
        approved = drv.find_element(By.CSS_SELECTOR, "#audit tr[data-action='action.approved']")
        assert "user:otto" in approved.text and rid in approved.text
        drv.find_element(By.ID, "verify").click()
        wait.until(ec.text_to_be_present_in_element((By.ID, "verify-result"), "verified"))
        shot = os.environ.get("NETVIGIL_CONSOLE_SCREENSHOT")
        if shot:  # the README's picture of the console
            drv.set_window_size(1400, 1500)
            drv.execute_script("window.scrollTo(0, 0)")
            drv.save_screenshot(shot)

        # the server agrees with the page
        audit = live.get(f"/api/audit?subject={fp}")
        assert isinstance(audit, list)
        mine = [a for a in audit if a["detail"].get("request_id") == rid]
        assert [a["action"] for a in mine] == ["action.executed", "action.approved"]
        assert mine[1]["actor"] == "user:otto"
        assert live.get("/api/audit/verify")["ok"] is True  # type: ignore[index]
        metrics = {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for fam in text_string_to_metric_families(live.text("/metrics"))
            for s in fam.samples
        }
        assert metrics[("netvigil_events_published_total", (("topic", "netvigil.metrics"),))] > 0
        assert metrics[("netvigil_detection_delay_seconds_count", ())] > 0
        assert (
            metrics[("netvigil_incidents", (("status", "open"),))]
            + metrics[("netvigil_incidents", (("status", "resolved"),))]
            >= 1
        )
        assert metrics[("netvigil_actions", (("status", "executed"),))] == 1

        # a viewer sees the same action but gets no buttons, and cannot trip the breaker
        drv.find_element(By.ID, "logout").click()
        wait = _login(drv, live.url, live.tokens["viewer"])
        wait.until(ec.text_to_be_present_in_element((By.ID, "who"), "vera (viewer)"))
        wait.until(
            ec.element_to_be_clickable((By.CSS_SELECTOR, f"#incidents tbody tr[data-fp='{fp}']"))
        ).click()
        wait.until(
            ec.presence_of_element_located((By.CSS_SELECTOR, f"#actions tr[data-id='{rid}']"))
        )
        assert drv.find_elements(By.CSS_SELECTOR, "#actions button") == []
        assert not drv.find_element(By.ID, "breaker-toggle").is_enabled()
