"""The running dashboard in headless Chromium, against the running cluster.

``make test`` runs the dashboard under its Procfile line beside every other service; these
tests drive it with selenium through Debian's ``chromium`` and ``chromium-driver`` (installed by
``.ci/run``), make their merchants through the gateway's admin API (an operator token signed
with the cluster's development key, as ``localcluster token --admin`` does) and their payments
through the public API. Every test leaves a screenshot of its last page in
``services/dashboard/tests/screenshots/`` and every page it opens is checked with axe-core
(``npm ci`` in ``services/dashboard`` installs it from ``package-lock.json``).
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from localcluster.testing import ClusterEnv
from paykit.auth.audiences import ADMIN_AUDIENCE, OPERATOR_SCOPES
from paykit.auth.jwt import SigningKey
from paykit.testing import wait_until

HERE = Path(__file__).resolve().parent
SCREENSHOTS = HERE.parent / "screenshots"
AXE = HERE.parents[1] / "node_modules" / "axe-core" / "axe.min.js"
IN_CI = os.environ.get("CI") == "true"
TIMEOUT = 60.0
BLOCKING_IMPACTS = frozenset({"serious", "critical"})


def _binary(*names: str) -> str | None:
    return next((found for name in names if (found := shutil.which(name))), None)


@pytest.fixture(scope="session")
def chromium() -> tuple[str, str]:
    browser = _binary("chromium", "chromium-browser")
    driver = _binary("chromedriver", "chromium-driver")
    if browser is None or driver is None:
        if IN_CI:
            pytest.fail("CI must have chromium and chromium-driver: .ci/run installs them")
        pytest.skip("needs Debian's chromium and chromium-driver (apt-get install chromium-driver)")
    return browser, driver


@pytest.fixture(scope="session")
def axe_source() -> str:
    if not AXE.exists():
        if IN_CI:
            pytest.fail(f"{AXE} is missing: .ci/run installs it with npm ci")
        pytest.skip("needs axe-core: run `npm ci` in services/dashboard")
    return AXE.read_text()


@pytest.fixture(scope="session")
def dashboard_url(cluster: ClusterEnv) -> str:
    port = os.environ.get("DASHBOARD_HTTP_PORT")
    url = os.environ.get("DASHBOARD_URL") or (f"http://127.0.0.1:{port}" if port else None)
    if url is None:
        pytest.fail("no dashboard in this cluster's cluster.env (DASHBOARD_HTTP_PORT)")

    def ready() -> bool:
        try:
            return httpx.get(f"{url}/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    assert wait_until(ready, timeout=TIMEOUT), f"the dashboard at {url} never became ready"
    return url


@pytest.fixture(scope="session")
def operator_token(cluster: ClusterEnv) -> str:
    key = SigningKey(
        Path(os.environ["AUTH_SIGNING_KEY_PATH"]).read_bytes(), os.environ["AUTH_SIGNING_KEY_ID"]
    )
    return key.issue(
        issuer=os.environ["AUTH_ISSUER"],
        audience=ADMIN_AUDIENCE,
        subject="operator-dashboard-tests",
        ttl=timedelta(minutes=30),
        scopes=OPERATOR_SCOPES,
    )


@dataclass
class Merchant:
    """A merchant made through the gateway's admin API, and the public API as it sees it."""

    merchant_id: str
    client_id: str
    client_secret: str
    api: httpx.Client

    def create_payment(self, amount: int = 3000, currency: str = "EUR") -> dict[str, Any]:
        made = self.api.post(
            "/v1/payments",
            json={"amount": amount, "currency": currency, "payment_method": "pm_card_visa"},
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
        assert made.status_code == 201, made.text
        created: dict[str, Any] = made.json()
        return created

    def get(self, path: str, **params: Any) -> Any:
        found = self.api.get(path, params=params)
        assert found.status_code == 200, found.text
        return found.json()

    def payment(self, payment_id: str) -> dict[str, Any]:
        found: dict[str, Any] = self.get(f"/v1/payments/{payment_id}")
        return found

    def balance(self, currency: str = "EUR") -> dict[str, int]:
        for row in self.get("/v1/balances")["data"]:
            if row["currency"] == currency:
                return {k: int(row[k]) for k in ("escrow", "payable", "receivable")}
        return {"escrow": 0, "payable": 0, "receivable": 0}


@pytest.fixture
def make_merchant(operator_token: str, unique: str) -> Iterator[Callable[[str], Merchant]]:
    gateway = os.environ["GATEWAY_URL"]
    clients: list[httpx.Client] = []

    def make(name: str) -> Merchant:
        with httpx.Client(base_url=gateway, timeout=15) as admin:
            made = admin.post(
                "/v1/admin/merchants",
                json={"name": f"{name} {unique}"},
                headers={"Authorization": f"Bearer {operator_token}"},
            )
            assert made.status_code == 201, made.text
            body = made.json()
            token = admin.post(
                "/v1/auth/token",
                json={"client_id": body["client_id"], "client_secret": body["client_secret"]},
            )
            assert token.status_code == 200, token.text
        api = httpx.Client(
            base_url=gateway,
            timeout=15,
            headers={"Authorization": f"Bearer {token.json()['access_token']}"},
        )
        clients.append(api)
        return Merchant(body["merchant_id"], body["client_id"], body["client_secret"], api)

    yield make
    for client in clients:
        client.close()


class Dashboard:
    """The browser on the dashboard: every page opened through `open` is checked with axe."""

    def __init__(self, driver: WebDriver, base_url: str, axe_source: str) -> None:
        self.driver = driver
        self.base_url = base_url
        self.axe_source = axe_source
        self.checked: list[str] = []

    def open(self, path: str) -> None:
        self.driver.get(f"{self.base_url}{path}")
        self.check_accessibility()

    def check_accessibility(self) -> None:
        """No serious or critical axe violation on the page as it is now."""
        self.driver.execute_script(self.axe_source)
        result = self.driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "axe.run(document).then(r => done(r.violations)).catch(e => done(String(e)));"
        )
        assert isinstance(result, list), f"axe did not run: {result}"
        blocking = [
            f"{v['id']} ({v['impact']}): {v['help']} at "
            + ", ".join(str(n["target"]) for n in v["nodes"][:3])
            for v in result
            if v.get("impact") in BLOCKING_IMPACTS
        ]
        assert not blocking, f"{self.driver.current_url}: " + "; ".join(blocking)
        self.checked.append(self.driver.current_url)

    def screenshot(self, name: str) -> None:
        """A picture of the page now, beside the one every test leaves at its end."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.driver.save_screenshot(str(SCREENSHOTS / f"{name}.png"))

    def text(self) -> str:
        return str(self.driver.find_element(By.TAG_NAME, "body").text)

    def heading(self) -> str:
        return str(self.driver.find_element(By.TAG_NAME, "h1").text)

    def fill(self, field_id: str, value: str) -> None:
        field = self.driver.find_element(By.ID, field_id)
        field.clear()
        field.send_keys(value)

    def press(self, label: str) -> None:
        """Click the button whose text is ``label``, then check the page it leads to."""
        buttons = self.driver.find_elements(
            By.XPATH, f"//main//button[normalize-space()='{label}']"
        )
        assert buttons, f"no button {label!r} on {self.driver.current_url}"
        buttons[0].click()
        self.check_accessibility()

    def sign_in(self, merchant: Merchant) -> None:
        self.open("/sign-in")
        self.fill("client_id", merchant.client_id)
        self.fill("client_secret", merchant.client_secret)
        self.press("Sign in")
        assert self.heading() == "Payments", self.text()

    def sign_in_as_operator(self, token: str) -> None:
        self.open("/admin/sign-in")
        self.fill("token", token)
        self.press("Sign in")
        assert self.heading() == "Dead letters", self.text()

    def sign_out(self) -> None:
        button = self.driver.find_element(By.XPATH, "//form[@class='sign-out']//button")
        button.click()
        self.check_accessibility()

    def eventually(self, path: str, condition: Callable[[], bool], what: str) -> None:
        """Reload ``path`` until ``condition`` holds (the platform works asynchronously)."""

        def reloaded() -> bool:
            self.driver.get(f"{self.base_url}{path}")
            return condition()

        if not wait_until(reloaded, timeout=TIMEOUT, interval=1.0):
            pytest.fail(f"{path} never showed {what}: {self.text()}")
        self.check_accessibility()


@pytest.fixture
def browser(
    chromium: tuple[str, str], dashboard_url: str, axe_source: str, request: pytest.FixtureRequest
) -> Iterator[Dashboard]:
    binary, driver_path = chromium
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1280,1000",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=Service(driver_path))
    driver.set_script_timeout(30)
    try:
        yield Dashboard(driver, dashboard_url, axe_source)
    finally:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(SCREENSHOTS / f"{request.node.name}.png"))
        driver.quit()
