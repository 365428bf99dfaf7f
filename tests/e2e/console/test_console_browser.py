"""The console in a real Chromium (Debian's ``chromium``, driven by Playwright) against the real
stack: intake, legal, alerts, the processor and the console as processes on the shared broker and
database.

What an advocate does on a normal morning: signs in with a second factor, keeps the Bandeja open
and sees a new alert arrive without reloading, acknowledges it, opens the case, watches the alert
resolve itself when the session is recorded, records what happened at the fiscalía, switches to
English; another advocate cannot open the case. Every main screen is checked with axe-core
(serious and critical violations fail) and saved under docs/screenshots/console/.
"""

from __future__ import annotations

import shutil
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pyotp
import pytest
import yaml
from pymongo import MongoClient

from services.console.domain.accounts import User
from services.console.service.accounts import hash_password
from services.processor.domain.policy import DEFAULT_POLICY_FILE
from shared.auth import mint
from shared.settings import CommonSettings
from tests.support import ROOT, Proc, free_port, isolated_env, uvicorn_args, wait_for

pytestmark = pytest.mark.e2e
playwright_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = "/usr/bin/chromium"
AXE = Path(__file__).resolve().parent / "axe.min.js"
SHOTS = ROOT / "docs" / "screenshots" / "console"
ORG = "org-e2e"
PASSWORD = "una contraseña larga de prueba"
LIMA = ZoneInfo("America/Lima")

if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
    pytest.skip("Debian's chromium is not installed (apt-get install chromium)", allow_module_level=True)


@dataclass
class Stack:
    console: Proc
    alerts: Proc
    legal: Proc
    settings: CommonSettings
    db: Any
    totp: dict[str, str]

    def add_user(self, username: str, user_id: str, roles: list[str], *, totp: bool, org: str = ORG) -> None:
        secret = pyotp.random_base32() if totp else None
        user = User(
            user_id=user_id,
            username=username,
            org=org,
            roles=roles,
            display_name=username,
            password_hash=hash_password(PASSWORD),
            totp_secret=secret,
            totp_enrolled=totp,
        )
        self.db["users"].insert_one({**{k: v for k, v in user.__dict__.items() if k != "user_id"}, "_id": user_id})
        if secret:
            self.totp[username] = secret

    def alert_status(self, alert_id: str, advocate: str) -> str:
        token = mint(self.settings, sub=advocate, roles=["legal_advocate"], org=ORG)
        r = httpx.get(
            f"{self.alerts.url}/v1/alerts/{alert_id}", headers={"Authorization": f"Bearer {token}"}, timeout=10
        )
        r.raise_for_status()
        return str(r.json()["status"])


def _policy(tmp: Path) -> Path:
    """The shipped policy with a 2-second service.overdue; every other time-based rule an hour out."""
    doc = yaml.safe_load(DEFAULT_POLICY_FILE.read_text())
    for cfg in doc["rules"].values():
        if "after" in cfg:
            cfg["after"] = "1h"
    if "followup.overdue" in doc["rules"]:
        doc["rules"]["followup.overdue"]["schedule_after_closure"] = ["1h"]
    doc["rules"]["service.overdue"]["after"] = "2s"
    doc["escalation"] = {sev: "1h" for sev in ("critical", "high", "medium", "low")}
    path = tmp / "policy.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


@pytest.fixture(scope="module")
def stack(
    stack_env: dict[str, str],
    db_name: Callable[[str], str],
    log_dir: Path,
    procs: list[Proc],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("console-e2e")
    env = isolated_env(stack_env)
    policy = _policy(tmp)
    ports = [free_port() for _ in range(5)]

    def start(name: str, args: list[str], extra: dict[str, str], port: int) -> Proc:
        proc = Proc(name, args, {**env, **extra}, log_dir, port=port)
        procs.append(proc)
        return proc

    intake = start(
        "console-e2e-intake",
        uvicorn_args("services.intake.main:app", ports[0]),
        {"CENTINELA_MONGO_DB": db_name("ce2e_intake")},
        ports[0],
    )
    legal = start(
        "console-e2e-legal",
        uvicorn_args("services.legal.main:app", ports[1]),
        {"CENTINELA_MONGO_DB": db_name("ce2e_legal")},
        ports[1],
    )
    alerts = start(
        "console-e2e-alerts",
        uvicorn_args("services.alerts.main:app", ports[2]),
        {
            "CENTINELA_MONGO_DB": db_name("ce2e_alerts"),
            "CENTINELA_POLICY_FILE": str(policy),
            "CENTINELA_ESCALATION_TICK_SECONDS": "0.5",
        },
        ports[2],
    )
    processor = start(
        "console-e2e-processor",
        [sys.executable, "-m", "services.processor", "worker", "--web-port", str(ports[3]), "-l", "warn"],
        {
            "CENTINELA_POLICY_FILE": str(policy),
            "CENTINELA_PROCESSOR_TICK_SECONDS": "0.5",
            "CENTINELA_PROCESSOR_DATADIR": str(tmp / "processor-data"),
        },
        ports[3],
    )
    console_db = db_name("ce2e_console")
    console = start(
        "console-e2e-console",
        uvicorn_args("services.console.main:app", ports[4]),
        {
            "CENTINELA_MONGO_DB": console_db,
            "CENTINELA_CONSOLE_INTAKE_URL": intake.url,
            "CENTINELA_CONSOLE_LEGAL_URL": legal.url,
            "CENTINELA_CONSOLE_ALERTS_URL": alerts.url,
            "CENTINELA_CONSOLE_PUBLIC_URL": f"http://127.0.0.1:{ports[4]}",
            # the inbox's timer is pushed out of the test's reach: a new alert can only arrive by the live stream
            "CENTINELA_CONSOLE_LIVE_POLL_SECONDS": "600",
        },
        ports[4],
    )
    for p in (intake, legal, alerts, console):
        p.wait_ready()
    processor.wait_ready("/readyz", timeout=90)
    mongo: MongoClient = MongoClient(env["CENTINELA_MONGO_URI"], tz_aware=True)  # type: ignore[type-arg]
    settings = CommonSettings(
        kafka_bootstrap=env["CENTINELA_KAFKA_BOOTSTRAP"], topic_prefix=env["CENTINELA_TOPIC_PREFIX"]
    )
    s = Stack(console, alerts, legal, settings, mongo[console_db], {})
    s.add_user("abogada", "adv-e2e", ["legal_advocate"], totp=True)
    s.add_user("otro.abogado", "adv-other", ["legal_advocate"], totp=False)
    s.add_user("registro", "officer-e2e", ["intake_officer"], totp=True)
    s.add_user("admin", "admin-e2e", ["admin"], totp=True)
    s.add_user("supervisora", "sup-e2e", ["supervisor"], totp=True)
    SHOTS.mkdir(parents=True, exist_ok=True)
    yield s
    mongo.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-dev-shm-usage", "--lang=es-PE"]
        )
        yield b
        b.close()


def new_page(browser: Any, **options: Any) -> Any:
    # bypass_csp only so that the test can inject axe-core; the app's own pages run under its CSP
    context = browser.new_context(locale="es-PE", bypass_csp=True, viewport={"width": 1280, "height": 900}, **options)
    context.set_default_timeout(20_000)
    return context.new_page()


def shot(page: Any, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def axe(page: Any, screen: str) -> None:
    page.add_script_tag(path=str(AXE))
    violations = page.evaluate(
        """async () => {
            const r = await axe.run(document, {resultTypes: ['violations']});
            return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                           nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}));
        }"""
    )
    bad = [v for v in violations if v["impact"] in ("serious", "critical")]
    assert bad == [], f"accessibility violations on {screen}: {bad}"


def sign_in(page: Any, stack: Stack, username: str, *, shots: bool = False) -> None:
    page.goto(f"{stack.console.url}/login")
    if shots:
        axe(page, "login")
        shot(page, "01-login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("main form button[type=submit]")
    page.wait_for_load_state()
    if "/login/totp" in page.url:
        if shots:
            axe(page, "second factor")
            shot(page, "02-second-factor")
        page.fill("#code", pyotp.TOTP(stack.totp[username]).now())
        page.click("main form button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)


def test_an_advocates_morning(stack: Stack, browser: Any) -> None:
    s = stack
    advocate = new_page(browser)
    sign_in(advocate, s, "abogada", shots=True)
    assert advocate.url.endswith("/inbox")
    advocate.wait_for_selector('#inbox[data-live="on"]')
    advocate.evaluate("() => { window.__sameDocument = true; }")
    assert advocate.locator("h1").inner_text() == "Bandeja"
    axe(advocate, "inbox (empty)")

    # the officer registers a case for this advocate and plans a psychosocial session due now
    officer = new_page(browser)
    sign_in(officer, s, "registro")
    officer.goto(f"{s.console.url}/cases/new")
    officer.fill("#given_names", "Centinela")
    officer.fill("#family_names", uuid.uuid4().hex[:8])
    officer.fill("#birth_date", "2011-05-06")
    officer.fill("#rescue_date", (datetime.now(LIMA) - timedelta(days=2)).date().isoformat())
    officer.fill("#region", "Madre de Dios")
    officer.check("input[name=exploitation_types][value=SexualExploitation]")
    officer.select_option("#advocate_id", "adv-e2e")
    officer.check("input[name=consent_for_services]")
    axe(officer, "register a case")
    shot(officer, "03-register-case")
    officer.click("main form button[type=submit]")
    officer.wait_for_url("**/cases/cs_*")
    case_id = officer.url.rsplit("/", 1)[1]
    assert "Caso registrado." in officer.inner_text("main")

    due = datetime.now(LIMA) - timedelta(minutes=1)
    officer.click("text=Planificar un servicio")
    officer.select_option("#service_kind", "psychosocial")
    officer.fill("#provider_org_id", "prov-e2e")
    officer.fill("#fd-d", due.date().isoformat())
    officer.fill("#fd-t", due.strftime("%H:%M"))
    officer.fill("#sessions_planned", "1")
    officer.click("form[action$='/services'] button[type=submit]")
    officer.wait_for_selector("text=Servicio planificado.")

    # the alert arrives in the open inbox by the live stream, without a reload
    row = advocate.locator("#inbox li.alert", has_text=case_id)
    row.wait_for(timeout=60_000)
    assert advocate.evaluate("() => window.__sameDocument === true")
    assert "Sesión planificada sin registrar" in row.inner_text()
    alert_id = row.get_attribute("data-alert-id")
    assert alert_id
    axe(advocate, "inbox")
    shot(advocate, "04-inbox-new-alert")

    # acknowledge with a comment
    row.locator("summary").click()
    row.locator("form[action$='/ack'] input[name=comment]").fill("llamando al albergue")
    row.locator("form[action$='/ack'] button[type=submit]").click()
    advocate.wait_for_selector("text=Alerta en atención.")
    assert s.alert_status(alert_id, "adv-e2e") == "acknowledged"
    advocate.select_option("#f-status", "acknowledged")
    advocate.locator("#inbox li.alert", has_text=case_id).wait_for()
    assert advocate.evaluate("() => window.__sameDocument === true")

    # the alert's page: what happened to it, with the comment
    advocate.click(f"#inbox a[href='/alerts/{alert_id}']")
    advocate.wait_for_url(f"**/alerts/{alert_id}")
    assert "llamando al albergue" in advocate.inner_text("main")
    axe(advocate, "alert")
    shot(advocate, "05-alert")
    advocate.goto(f"{s.console.url}/inbox?status=acknowledged")
    advocate.locator("#inbox li.alert", has_text=case_id).wait_for()
    advocate.click(f"#inbox a[href='/cases/{case_id}']")
    advocate.wait_for_url(f"**/cases/{case_id}")
    main = advocate.inner_text("main")
    assert "Atención psicosocial" in main and "Vencida desde" in main
    assert "Sesión planificada sin registrar" in main
    assert "Nombres" not in main and "Centinela" not in main  # an advocate never sees the identity
    axe(advocate, "case")
    shot(advocate, "06-case")

    # the officer records the session; the alert resolves itself
    officer.reload()
    officer.locator("article.service summary", has_text="Registrar una sesión").click()
    officer.click("form.session-form button[type=submit]")
    officer.wait_for_selector("text=Sesión registrada.")

    # and plans, then records, a reintegration follow-up
    officer.click("text=Planificar un seguimiento")
    officer.select_option("#followup_kind", "reintegration")
    officer.fill("#followup_needed_by_date", (datetime.now(LIMA) + timedelta(days=30)).date().isoformat())
    officer.click("form[action$='/follow-ups'] button[type=submit]")
    officer.wait_for_selector("text=Seguimiento planificado.")
    officer.click("text=Registrar el seguimiento")
    officer.fill("input[name=done_date]", datetime.now(LIMA).date().isoformat())
    officer.select_option("select[name=outcome]", "contacted_stable")
    officer.click("form[action*='/follow-ups/'] button[type=submit]")
    officer.wait_for_selector("text=Seguimiento registrado.")
    assert "Contactada(o), estable" in officer.inner_text("#h-followups + ul")

    def resolved() -> bool:
        advocate.reload()
        return advocate.locator('.alert-status[data-rule="service.overdue"]').first.inner_text() == "Resuelta"

    wait_for(resolved, timeout=60, interval=1, what="the overdue alert resolving itself on the case page")
    assert s.alert_status(alert_id, "adv-e2e") == "resolved"
    shot(advocate, "07-case-alert-resolved")

    # the advocate records what happened at the fiscalía
    advocate.goto(f"{s.console.url}/cases/{case_id}/legal-events/new")
    # the form asks for what each kind needs (htmx swaps the fields in)
    advocate.select_option("#kind", "hearing_scheduled")
    advocate.wait_for_selector("#hearing_id")
    advocate.select_option("#kind", "stage_changed")
    advocate.wait_for_selector("#stage")
    advocate.wait_for_selector("#hearing_id", state="detached")
    advocate.select_option("#stage", "preliminary_investigation")
    axe(advocate, "record a legal event")
    shot(advocate, "08-legal-event")
    advocate.click("main form button[type=submit]")
    advocate.wait_for_url(f"**/cases/{case_id}")
    assert "Hecho procesal registrado." in advocate.inner_text("main")

    def stage_shown() -> bool:
        advocate.reload()
        return "Diligencias preliminares" in advocate.inner_text("#h-legal + dl")

    wait_for(stage_shown, timeout=30, interval=1, what="the new stage in the prosecution section")

    # a hearing next week lands in the agenda
    hearing_day = (datetime.now(LIMA) + timedelta(days=7)).date()
    advocate.goto(f"{s.console.url}/cases/{case_id}/legal-events/new")
    advocate.select_option("#kind", "hearing_scheduled")
    advocate.wait_for_selector("#hearing_id")
    advocate.fill("#hearing_id", "aud-001")
    advocate.fill("#scheduled_for-d", hearing_day.isoformat())
    advocate.fill("#scheduled_for-t", "09:30")
    advocate.click("main form button[type=submit]")
    advocate.wait_for_url(f"**/cases/{case_id}")
    assert "Hecho procesal registrado." in advocate.inner_text("main")

    def on_agenda() -> bool:
        advocate.goto(f"{s.console.url}/agenda")
        return "aud-001" in advocate.inner_text("main")

    wait_for(on_agenda, timeout=30, interval=1, what="the hearing on the agenda")
    assert f"{hearing_day.strftime('%d/%m/%Y')} 09:30" in advocate.inner_text("main")
    axe(advocate, "agenda")
    shot(advocate, "09-agenda")
    advocate.goto(f"{s.console.url}/cases/{case_id}")

    # a document: uploaded through the console, listed, and read back (intake encrypts and audits it)
    advocate.click("text=Agregar un documento")
    advocate.select_option("#doc-category", "prosecutor_disposition")
    advocate.fill("#doc-title", "Disposición de apertura")
    advocate.set_input_files(
        "#doc-file",
        files=[{"name": "disposicion.txt", "mimeType": "text/plain", "buffer": "Disposición 12-2026".encode()}],
    )
    advocate.click("form[action$='/documents'] button[type=submit]")
    advocate.wait_for_selector("text=Documento agregado.")
    link = advocate.locator("#h-docs + ul a", has_text="Disposición de apertura")
    href = link.get_attribute("href")
    assert href
    download = advocate.request.get(f"{s.console.url}{href}")
    assert download.status == 200 and download.body() == "Disposición 12-2026".encode()
    assert download.headers["cache-control"] == "no-store"

    # English
    advocate.click("nav button[value=en]")
    advocate.wait_for_load_state()
    assert advocate.locator("html").get_attribute("lang") == "en"
    assert "Prosecution" in advocate.inner_text("main") and "Preliminary investigation" in advocate.inner_text("main")
    shot(advocate, "10-case-english")
    advocate.goto(f"{s.console.url}/inbox")
    assert advocate.locator("h1").inner_text() == "Inbox"

    # a phone-sized screen
    phone = new_page(browser, is_mobile=True)
    phone.context.add_cookies(advocate.context.cookies())
    phone.set_viewport_size({"width": 390, "height": 844})
    phone.goto(f"{s.console.url}/inbox?status=resolved")
    phone.locator("#inbox li.alert", has_text=case_id).wait_for()
    shot(phone, "11-inbox-phone")

    # another advocate of the same organisation cannot open the case
    other = new_page(browser)
    sign_in(other, s, "otro.abogado")
    response = other.goto(f"{s.console.url}/cases/{case_id}")
    assert response is not None and response.status == 404
    assert "Este caso no existe o no está asignado a ti." in other.inner_text("main")
    assert "Atención psicosocial" not in other.inner_text("main")
    axe(other, "not found")
    shot(other, "12-case-of-another-advocate")

    # the organisation's admin sees the users
    admin = new_page(browser)
    sign_in(admin, s, "admin")
    admin.goto(f"{s.console.url}/admin/users")
    assert "abogada" in admin.inner_text("main")
    axe(admin, "users")
    shot(admin, "13-admin-users")

    # the supervisor's overview of the organisation
    supervisor = new_page(browser)
    sign_in(supervisor, s, "supervisora")
    supervisor.goto(f"{s.console.url}/supervisor")
    assert "Alertas escaladas" in supervisor.inner_text("main")
    axe(supervisor, "supervision")
    shot(supervisor, "14-supervision")
    for p in (advocate, officer, phone, other, admin, supervisor):
        p.context.close()
