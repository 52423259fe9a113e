"""The console in a real headless Chromium (Debian's) against the twin: log in, see an incident
appear, approve its action, see it executed and audited; a viewer gets no approve button. With
the twin's default settings an operator gets to approve a proposal in time. The page is judged
as a person sees it: screenshots of each view go to $NETVIGIL_CONSOLE_SCREENSHOTS (a folder)
when set."""

from __future__ import annotations

import json
import os
import re
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

import netvigil.eval
from tests.e2e.console import live_console

SCENARIOS = Path(netvigil.eval.__file__).parent / "scenarios"

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
from selenium.common.exceptions import StaleElementReferenceException  # noqa: E402
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
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    drv = webdriver.Chrome(options=opts, service=DriverService(executable_path=DRIVER))
    try:
        yield drv
    finally:
        drv.quit()


def _attr(wait: WebDriverWait[WebDriver], css: str, name: str) -> str:
    return str(wait.until(lambda d: d.find_element(By.CSS_SELECTOR, css).get_attribute(name)))


def _text(wait: WebDriverWait[WebDriver], css: str) -> str:
    return str(wait.until(lambda d: d.find_element(By.CSS_SELECTOR, css).text))


def _click(wait: WebDriverWait[WebDriver], css: str) -> None:
    wait.until(lambda d: d.find_element(By.CSS_SELECTOR, css).click() or True)


def _login(drv: WebDriver, url: str, token: str) -> WebDriverWait[WebDriver]:
    # the page redraws its tables every 2 s: an element found a moment ago may be replaced,
    # so every lookup below is retried on a stale element
    wait = WebDriverWait(drv, 60, ignored_exceptions=[StaleElementReferenceException])
    drv.get(url + "/")
    box = wait.until(ec.visibility_of_element_located((By.ID, "token")))
    box.clear()
    box.send_keys(token)
    drv.find_element(By.ID, "login").click()
    return wait


def _shot(drv: WebDriver, name: str, css: str | None = None) -> None:
    """A screenshot of the whole page (or of one element) for a person to look at."""
    folder = os.environ.get("NETVIGIL_CONSOLE_SCREENSHOTS")
    if not folder:
        return
    Path(folder).mkdir(parents=True, exist_ok=True)
    height = int(drv.execute_script("return document.documentElement.scrollHeight"))
    drv.set_window_size(1400, min(max(height, 1000), 4000))  # all of the page in view
    if css is not None:
        drv.find_element(By.CSS_SELECTOR, css).screenshot(str(Path(folder) / name))
    else:
        drv.save_screenshot(str(Path(folder) / name))
    drv.set_window_size(1400, 1000)


def _fits_the_window(drv: WebDriver) -> None:
    width = drv.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"the page is wider than the window: {width}"


_DOTS = (By.CSS_SELECTOR, "#timeline circle[data-signal]")
WALL_CLOCK = re.compile(r"\b\d{1,2}:\d{2}(:\d{2})?\s?[AP]M\b")


def _page_errors(drv: WebDriver) -> list[str]:
    """What the browser logged as errors (failed requests such as a missing favicon)."""
    return [e["message"] for e in drv.get_log("browser") if e["level"] == "SEVERE"]


def test_operator_approves_an_action_of_a_twin_incident(browser: WebDriver, tmp_path: Path) -> None:
    drv = browser
    # faults last an hour (12 s of wall time at 300x), so a human has time to approve the
    # remediator's proposal before the incident resolves and cancels it
    slow = {"NETVIGIL_TWIN__FAULT_DURATION_S": "3600", "NETVIGIL_TWIN__FAULT_INTERVAL_S": "7200"}
    # the twin serves and probes the cross-domain scenario's services: the services table
    slow["NETVIGIL_TWIN__SERVICES"] = str(SCENARIOS / "service-loss.yaml")
    with live_console(tmp_path / "data", env=slow) as live:
        # a wrong token is refused on the page
        wait = _login(drv, live.url, "nvk_00000000_wrong")
        wait.until(ec.text_to_be_present_in_element((By.ID, "login-error"), "refused"))
        assert not drv.find_element(By.ID, "app").is_displayed()
        drv.get_log("browser")  # the refused request's 401 was meant

        wait = _login(drv, live.url, live.tokens["operator"])
        wait.until(ec.text_to_be_present_in_element((By.ID, "who"), "otto (operator)"))
        # the twin's services are listed with their path and SLOs
        shop = _text(wait, "#services tbody tr[data-service='shop']")
        assert "edge1" in shop and "99.00% success" in shop, shop
        # an incident from the twin appears in the live list (polled every 2 s)
        fp = _attr(wait, "#incidents tbody tr[data-fp]", "data-fp")
        _click(wait, f"#incidents tbody tr[data-fp='{fp}']")
        wait.until(ec.visibility_of_element_located((By.ID, "detail")))
        # the picture of the affected topology and the signal timeline are drawn
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#topo circle")) >= 2)
        root = drv.find_elements(By.CSS_SELECTOR, "#topo [data-root='true']")
        assert root, "the root cause is highlighted in the picture"
        assert drv.find_elements(By.CSS_SELECTOR, "#ranking tbody tr")
        # the signal timeline has a time axis with a scale, a legend and the incident's moments
        wait.until(lambda d: d.find_elements(*_DOTS))
        ticks = [e.text for e in drv.find_elements(By.CSS_SELECTOR, "#timeline text.tick")]
        assert len(ticks) >= 2 and all(re.fullmatch(r"\d\d:\d\d(:\d\d)?", t) for t in ticks), ticks
        axis = _text(wait, "#timeline text.axis-title")
        assert "network time, UTC" in axis and "a tick every" in axis, axis
        legend = drv.find_element(By.ID, "timeline").text
        assert "anomaly active" in legend and "cleared" in legend and "opened" in legend
        assert len(drv.find_elements(By.CSS_SELECTOR, "#timeline line.mark")) == 2
        # every onset is inside the plotted span (right of the labels, left of the edge)
        cxs = [float(str(d.get_attribute("cx"))) for d in drv.find_elements(*_DOTS)]
        assert all(280 <= cx <= 642 for cx in cxs), cxs
        _shot(drv, "console-incident.png")
        _shot(drv, "console-timeline.png", "#timeline")

        rid = _attr(wait, "#actions button.approve", "data-id")
        _click(wait, f"#actions button.approve[data-id='{rid}']")
        wait.until(
            ec.text_to_be_present_in_element(
                (By.CSS_SELECTOR, f"#actions tr[data-id='{rid}']"), "by otto"
            )
        )
        # the remediator picks the approval up, executes on the twin and audits every step;
        # the audit view shows it
        executed = f"#audit tr[data-action='action.executed'][data-request='{rid}']"
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, executed))
        approved = _text(wait, f"#audit tr[data-action='action.approved'][data-request='{rid}']")
        assert "approved by otto" in approved
        mine = _text(wait, f"#audit tr[data-action='console.approved'][data-request='{rid}']")
        assert "user:otto" in mine
        _click(wait, "#verify")
        wait.until(ec.text_to_be_present_in_element((By.ID, "verify-result"), "verified"))
        # the audit log: one line per record, all of the detail on a click; the page never
        # grows wider than the window
        _fits_the_window(drv)
        heights = drv.execute_script(
            "return [...document.querySelectorAll('#audit tbody tr')]"
            ".map((r) => r.getBoundingClientRect().height)"
        )
        assert heights and max(heights) < 40, heights
        line = f"#audit tr[data-action='action.executed'][data-request='{rid}'] summary"
        words = _text(wait, line)  # words, not the record's JSON
        assert "action interface_reset" in words and '"request_id":' not in words, words
        _click(wait, line)
        full = _text(wait, f"#audit tr[data-action='action.executed'][data-request='{rid}'] pre")
        assert json.loads(full)["request_id"] == rid
        _fits_the_window(drv)
        # one clock, labelled: no wall-clock time of day anywhere on the page
        assert "network event time, UTC" in _text(wait, "#clock")
        assert _text(wait, "#live") == "● live"
        assert not WALL_CLOCK.search(drv.find_element(By.TAG_NAME, "body").text)
        _shot(drv, "console-audit.png")
        shot = os.environ.get("NETVIGIL_CONSOLE_SCREENSHOT")
        if shot:  # the README's picture of the console
            drv.set_window_size(1400, 1500)
            drv.execute_script("window.scrollTo(0, 0)")
            drv.save_screenshot(shot)

        # the server agrees with the page
        audit = live.get(f"/api/audit?subject={fp}")
        assert isinstance(audit, list)
        steps = [a["action"] for a in audit if a["detail"].get("request_id") == rid]
        assert {"console.approved", "action.approved", "action.executed"} <= set(steps)
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
        acted = [
            v
            for (name, labels), v in metrics.items()
            if name == "netvigil_actions" and dict(labels)["status"] not in ("proposed",)
        ]
        assert sum(acted) >= 1

        # a viewer sees the same action but gets no buttons, and cannot trip the breaker
        _click(wait, "#logout")
        wait = _login(drv, live.url, live.tokens["viewer"])
        wait.until(ec.text_to_be_present_in_element((By.ID, "who"), "vera (viewer)"))
        _click(wait, f"#incidents tbody tr[data-fp='{fp}']")
        wait.until(
            ec.presence_of_element_located((By.CSS_SELECTOR, f"#actions tr[data-id='{rid}']"))
        )
        assert drv.find_elements(By.CSS_SELECTOR, "#actions button") == []
        assert not drv.find_element(By.ID, "breaker-toggle").is_enabled()
        # the page's icon is served, and nothing the page asked for failed
        icon = drv.find_element(By.CSS_SELECTOR, "link[rel='icon']").get_attribute("href")
        with urllib.request.urlopen(str(icon), timeout=10) as r:
            assert r.status == 200 and r.headers["Content-Type"].startswith("image/svg+xml")
        assert _page_errors(drv) == []


def test_with_the_twins_defaults_an_operator_approves_in_time(
    browser: WebDriver, tmp_path: Path
) -> None:
    """``netvigil run --twin`` as a new user starts it (the twin's default speed and fault
    schedule, no services configured): the proposal shows on top of the page while it waits,
    and there is time to approve it before the fault clears by itself."""
    drv = browser
    with live_console(tmp_path / "data", speed=None) as live:
        wait = _login(drv, live.url, live.tokens["operator"])
        wait.until(ec.text_to_be_present_in_element((By.ID, "who"), "otto (operator)"))
        # no services configured: the panel says where they come from instead of staying empty
        hint = _text(wait, "#no-services")
        assert "services.probes" in hint and "twin" in hint
        assert not drv.find_element(By.ID, "services").is_displayed()
        # the first fault's remediation waits for a human, on top of the page
        approve = WebDriverWait(drv, 120, ignored_exceptions=[StaleElementReferenceException])
        rid = _attr(approve, "#pending button.approve", "data-id")
        assert drv.find_element(By.ID, "pending-panel").is_displayed()
        _shot(drv, "console-pending.png")
        _click(wait, f"#pending button.approve[data-id='{rid}']")
        # approved in time: the remediator runs it (not cancelled by the fault clearing first)
        executed = f"#audit tr[data-action='action.executed'][data-request='{rid}']"
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, executed))
        action = live.get(f"/api/actions/{rid}")
        assert isinstance(action, dict) and action["decided_by"] == "otto", action
        wait.until(lambda d: not d.find_element(By.ID, "pending-panel").is_displayed())
        _fits_the_window(drv)
        _shot(drv, "console-defaults.png")
        assert _page_errors(drv) == []


def test_risks_preemptive_changes_and_the_track_record_on_the_page(
    browser: WebDriver, tmp_path: Path
) -> None:
    """A growth ramp in the twin (semi-autonomous): the page lists the risk with its deadline
    and its level-2 preemptive change, and each domain's record; an operator marks the risk
    false from the page, which the server has."""
    drv = browser
    env = {
        "NETVIGIL_TWIN__FAULT_KINDS": '["growth_ramp"]',
        "NETVIGIL_TWIN__FAULT_DURATION_S": "7200",
        "NETVIGIL_TWIN__FAULT_INTERVAL_S": "10800",
        "NETVIGIL_COORDINATOR__PHASE": "semi-autonomous",
    }
    with live_console(tmp_path / "data", env=env) as live:
        wait = _login(drv, live.url, live.tokens["operator"])
        wait.until(ec.visibility_of_element_located((By.ID, "risks-panel")))
        rid = _attr(wait, "#risks tbody tr[data-risk]", "data-risk")
        wait.until(
            ec.text_to_be_present_in_element(
                (By.CSS_SELECTOR, f"#risks tr[data-risk='{rid}']"), "qos_adjust L2"
            )
        )
        assert "all" in _text(wait, "#record tbody tr[data-domain='all']")
        _click(wait, f"#risks tr[data-risk='{rid}'] button.judge-false")
        wait.until(ec.text_to_be_present_in_element((By.ID, "prevention-msg"), "marked false"))
        judged = live.get(f"/api/judgements?subject={rid}")
        assert isinstance(judged, list) and judged[0]["actor"] == "otto"
