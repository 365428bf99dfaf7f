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
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pyotp
import pytest
from pymongo import MongoClient

from tests.e2e.stack import Stack, StackConfig, StartStack, quiet_policy
from tests.integration.console.oidc_provider import CLIENT_ID, CLIENT_SECRET, running_provider
from tests.integration.console.support import PASSWORD, insert_user
from tests.support import ROOT, Proc, free_port, uvicorn_args, wait_for

pytestmark = pytest.mark.e2e
playwright_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = "/usr/bin/chromium"
AXE = Path(__file__).resolve().parent / "axe.min.js"
SHOTS = ROOT / "docs" / "screenshots" / "console"
ORG = "org-e2e"
LIMA = ZoneInfo("America/Lima")
INBOX_PAGE = 2  # alerts per inbox page: small, so that a few alerts make a second page

if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
    pytest.skip("Debian's chromium is not installed (apt-get install chromium)", allow_module_level=True)


@dataclass
class Console:
    """The e2e stack (intake, legal, processor, alerts) with the console in front of it."""

    base: Stack
    console: Proc
    db: Any
    totp: dict[str, str] = field(default_factory=dict)

    def add_user(self, username: str, user_id: str, roles: list[str], *, totp: bool) -> None:
        secret = insert_user(self.db, username, user_id, ORG, roles, totp=totp)
        if secret:
            self.totp[username] = secret

    def alert_status(self, alert_id: str, advocate: str) -> str:
        return str(self.base.alert_detail(alert_id, advocate)["status"])

    def wait_overdue(self, case_id: str, advocate: str) -> None:
        def raised() -> bool:
            return any(a["rule"] == "service.overdue" for a in self.base.alerts_of(case_id, sub=advocate))

        wait_for(raised, timeout=60, interval=0.3, what=f"service.overdue for {advocate}")

    def overdue_service(self, advocate: str) -> str:
        """A case of ``advocate`` whose psychosocial session was due a minute ago: service.overdue
        reaches the advocate's inbox two seconds later."""
        case_id = self.base.register_case(advocate=advocate)
        r = httpx.post(
            f"{self.base.intake.url}/v1/cases/{case_id}/services",
            json={
                "service_kind": "psychosocial",
                "provider_org_id": "prov-e2e",
                "first_due_at": (datetime.now(UTC) + timedelta(seconds=1)).isoformat(),
                "sessions_planned": 1,
            },
            headers=self.base.headers("intake_officer", "officer-e2e"),
            timeout=10,
        )
        assert r.status_code == 201, r.text
        return case_id


def console_env(base: Stack) -> dict[str, str]:
    return {
        "CENTINELA_CONSOLE_INTAKE_URL": base.intake.url,
        "CENTINELA_CONSOLE_LEGAL_URL": base.legal.url,
        "CENTINELA_CONSOLE_ALERTS_URL": base.alerts.url,
        # the inbox's timer is pushed out of the test's reach: a new alert can only arrive by the live stream
        "CENTINELA_CONSOLE_LIVE_POLL_SECONDS": "600",
        "CENTINELA_CONSOLE_INBOX_PAGE_SIZE": str(INBOX_PAGE),
    }


@pytest.fixture(scope="module")
def stack(start_stack: StartStack) -> Iterator[Console]:
    base = start_stack(StackConfig("ce2e", org=ORG, policy=quiet_policy({"service.overdue": {"after": "2s"}})))
    console = base.start_app("console", "services.console.main:app", console_env(base))
    mongo: MongoClient = MongoClient(base.env["CENTINELA_MONGO_URI"], tz_aware=True)
    s = Console(base, console, mongo[base.db_name("console")])
    s.add_user("abogada", "adv-e2e", ["legal_advocate"], totp=True)
    s.add_user("otro.abogado", "adv-other", ["legal_advocate"], totp=False)
    s.add_user("paginas", "adv-pages", ["legal_advocate"], totp=False)
    s.add_user("registro", "officer-e2e", ["intake_officer"], totp=True)
    s.add_user("admin", "admin-e2e", ["admin"], totp=True)
    s.add_user("supervisora", "sup-e2e", ["supervisor"], totp=True)
    s.add_user("admin.oidc", "admin-oidc", ["admin"], totp=True)  # its own TOTP window: a code is good once
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


def sign_in(page: Any, stack: Console, username: str, *, shots: bool = False) -> None:
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


def visit(browser: Any, s: Console, username: str, path: str, expect: str, screen: str, name: str) -> Any:
    """Sign in as ``username``, open ``path``, check it shows ``expect`` and passes axe; save a screenshot."""
    page = new_page(browser)
    sign_in(page, s, username)
    page.goto(f"{s.console.url}{path}")
    assert expect in page.inner_text("main")
    axe(page, screen)
    shot(page, name)
    return page


def test_an_advocates_morning(stack: Console, browser: Any) -> None:
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
    # who viewed or changed the case (intake's access record): the officer registered it, she opened it
    assert "Quién consultó o modificó este caso" in main
    views = advocate.locator("#case-views")
    created = views.locator("tr[data-action='case.create']")
    assert "Registró el caso" in created.inner_text() and "registro" in created.inner_text()
    opened = views.locator("tr[data-action='case.read']", has_text="abogada").first
    assert "Abrió el caso" in opened.inner_text() and "Abogado/a" in opened.inner_text()
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

    # the child's testimony (a kind legal learnt after the form was written): the method is a select
    advocate.goto(f"{s.console.url}/cases/{case_id}/legal-events/new")
    advocate.select_option("#kind", "testimony_taken")
    advocate.wait_for_selector("#method")
    advocate.select_option("#method", "camara_gesell")
    advocate.click("main form button[type=submit]")
    advocate.wait_for_url(f"**/cases/{case_id}")
    assert "Hecho procesal registrado." in advocate.inner_text("main")
    legal_timeline = httpx.get(
        f"{s.base.legal.url}/v1/cases/{case_id}/legal-timeline", headers=s.base.advocate_headers("adv-e2e"), timeout=10
    ).json()
    testimony = [e for e in legal_timeline["entries"] if e["kind"] == "testimony_taken"]
    assert [e["details"]["method"] for e in testimony] == ["camara_gesell"]

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
    # the agenda is legal's calendar: the hearing and the new stage's deadline, with the calendar link
    hearing = advocate.locator("#agenda tr[data-kind='hearing']", has_text="aud-001")
    assert f"{hearing_day.strftime('%d/%m/%Y')} 09:30" in hearing.inner_text()
    stage = advocate.locator("#agenda tr[data-kind='stage_deadline']", has_text=case_id)
    assert "Diligencias preliminares" in stage.inner_text()
    assert advocate.locator("form[action='/agenda/feed/rotate']").count() == 1
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

    # the organisation's admin sees the users; the supervisor, the organisation
    admin = visit(browser, s, "admin", "/admin/users", "abogada", "users", "13-admin-users")
    supervisor = visit(browser, s, "supervisora", "/supervisor", "Alertas escaladas", "supervision", "14-supervision")
    for p in (advocate, officer, phone, other, admin, supervisor):
        p.context.close()


SWAPS = """() => {
    window.__swaps = 0;
    document.body.addEventListener("htmx:afterSwap", (e) => { if (e.target.id === "inbox") window.__swaps += 1; });
}"""


def test_a_live_refresh_keeps_the_page_and_the_filters_the_advocate_is_on(stack: Console, browser: Any) -> None:
    s = stack
    first = [s.overdue_service("adv-pages") for _ in range(INBOX_PAGE + 1)]
    for case_id in first:
        s.wait_overdue(case_id, "adv-pages")
    page = new_page(browser)
    sign_in(page, s, "paginas")
    page.wait_for_selector('#inbox[data-live="on"]')
    assert page.locator("#inbox li.alert").count() == INBOX_PAGE
    on_first = [c for c in first if c in page.inner_text("#inbox")]
    assert len(on_first) == INBOX_PAGE
    (oldest,) = set(first) - set(on_first)

    # page 2 (by the alerts API's cursor) holds the oldest alert
    page.locator("#inbox nav.pager a", has_text="Más antiguas").click()
    page.wait_for_url("**cursor=*")
    page.wait_for_selector('#inbox[data-live="on"]')
    cursor = page.locator("#inbox-cursor").input_value()
    assert cursor
    older = page.locator("#inbox li.alert")
    assert older.count() == 1 and oldest in older.inner_text()
    page.evaluate(SWAPS)

    # a new alert arrives by the live stream: the list is redrawn, and stays on page 2
    newest = s.overdue_service("adv-pages")
    s.wait_overdue(newest, "adv-pages")
    page.wait_for_function("() => window.__swaps >= 1", timeout=60_000)
    assert page.locator("#inbox-cursor").input_value() == cursor
    assert page.locator("#inbox li.alert").count() == 1
    assert oldest in page.inner_text("#inbox") and newest not in page.inner_text("#inbox")
    shot(page, "15-inbox-page-2-after-live-refresh")

    # page 1 shows the new alert; with a filter on, a live refresh keeps the filter
    page.locator("#inbox nav.pager a", has_text="Más recientes").click()
    page.locator("#inbox li.alert", has_text=newest).wait_for()
    page.evaluate(SWAPS)
    page.select_option("#f-severity", "critical")
    page.wait_for_function("() => window.__swaps >= 1")
    assert page.locator("#inbox li.alert").count() == 0
    page.evaluate("() => { window.__swaps = 0; }")
    another = s.overdue_service("adv-pages")
    s.wait_overdue(another, "adv-pages")
    page.wait_for_function("() => window.__swaps >= 1", timeout=60_000)
    assert page.locator("#f-severity").input_value() == "critical"
    assert page.locator("#inbox li.alert").count() == 0
    assert another not in page.inner_text("#inbox")
    page.context.close()


def test_sign_in_through_the_organisations_provider(
    stack: Console, browser: Any, log_dir: Path, procs: list[Proc]
) -> None:
    """A second console on the same accounts, with sign-in through a loopback OpenID Connect
    provider (tests/integration/console/oidc_provider.py): the browser goes to the provider and back."""
    s = stack
    with running_provider() as provider:
        port = free_port()
        env = {
            **s.base.env,
            **console_env(s.base),
            "CENTINELA_MONGO_DB": s.base.db_name("console"),
            "CENTINELA_CONSOLE_PUBLIC_URL": f"http://127.0.0.1:{port}",
            "CENTINELA_CONSOLE_OIDC_ISSUER": provider.url,
            "CENTINELA_CONSOLE_OIDC_CLIENT_ID": CLIENT_ID,
            "CENTINELA_CONSOLE_OIDC_CLIENT_SECRET": CLIENT_SECRET,
            "CENTINELA_CONSOLE_OIDC_NAME": "Cuenta de la ONG",
        }
        oidc = Proc("ce2e-console-oidc", uvicorn_args("services.console.main:app", port), env, log_dir, port=port)
        procs.append(oidc)
        oidc.wait_ready()
        first, s.console = s.console, oidc  # sign_in() and the pages below talk to this console

        # the admin links the advocate's account at the organisation's provider
        admin = new_page(browser)
        sign_in(admin, s, "admin.oidc")
        admin.goto(f"{oidc.url}/admin/users")
        admin.fill("#oidc-adv-other", "otro@ong.pe")
        admin.click("form[action='/admin/users/adv-other/oidc'] button[type=submit]")
        admin.wait_for_selector("text=Ingreso externo vinculado.")
        axe(admin, "users with external sign-in")
        shot(admin, "18-admin-users-provider-link")

        advocate = new_page(browser)
        advocate.goto(f"{oidc.url}/login")
        axe(advocate, "login with a provider")
        shot(advocate, "16-login-with-provider")
        provider.next_login = {"sub": "otro@ong.pe"}
        advocate.click("#oidc-sign-in")
        advocate.wait_for_url(f"{oidc.url}/inbox")
        assert advocate.locator("h1").inner_text() == "Bandeja"
        assert "otro.abogado" in advocate.inner_text("footer")
        assert "POST /token" in provider.requests

        # an account nobody linked gets a page that says so, and no session
        stranger = new_page(browser)
        stranger.goto(f"{oidc.url}/login")
        provider.next_login = {"sub": "nadie@ong.pe"}
        stranger.click("#oidc-sign-in")
        stranger.wait_for_selector("#login-error")
        assert "no está vinculada a un usuario de esta consola" in stranger.inner_text("#login-error")
        assert stranger.get_attribute("#username", "aria-invalid") is None  # not the user name's fault
        axe(stranger, "refused provider sign-in")
        shot(stranger, "17-provider-account-not-linked")
        stranger.goto(f"{oidc.url}/inbox")
        assert "/login" in stranger.url
        for p in (admin, advocate, stranger):
            p.context.close()
        s.console = first
        oidc.stop()
