"""Caso / Case: one page with the case, its services and sessions, risk flags, prosecution
timeline and alerts; and the forms that record what advocates and officers do."""

from __future__ import annotations

import logging
import unicodedata
import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import Response

from services.console.adapters.apis import ApiError, ApiUnavailable
from services.console.domain import forms
from services.console.domain.accounts import IDENTITY_ROLES
from services.console.service.accounts import utcnow
from services.console.web import labels
from services.console.web.core import Csrf, Page, PageError, Redirect, SignedIn, redirect, roles
from services.console.web.inbox import age, load_inbox

log = logging.getLogger(__name__)
router = APIRouter()

CASE_READERS = ("intake_officer", "supervisor", "legal_advocate", "service_provider")
MANAGERS = ("intake_officer", "supervisor")
SESSION_WRITERS = ("service_provider", "intake_officer", "supervisor")
FLAG_WRITERS = ("intake_officer", "supervisor", "legal_advocate", "service_provider")
LEGAL_WRITERS = ("legal_advocate", "supervisor")
# intake answers the case's access record to its advocate, its organisation's supervisors and admins
VIEW_READERS = ("legal_advocate", "supervisor")
VIEWS_ON_CASE_PAGE = 20
CaseReader = Annotated[Page, Depends(roles(*CASE_READERS))]
NOT_FOUND = "This case does not exist or is not assigned to you."
# what each form says when intake took the change, and when it refused it
SESSION_SENT = ("Session recorded.", "The case registry refused the session.")
RISK_SENT = ("Risk flag raised. The advocate is alerted.", "The case registry refused the risk flag.")
SERVICE_SENT = ("Service planned.", "The case registry refused the service.")
FOLLOWUP_PLANNED = ("Follow-up planned.", "The case registry refused the follow-up.")
FOLLOWUP_SENT = ("Follow-up recorded.", "The case registry refused the follow-up.")
DOCUMENT_SENT = ("Document added.", "The case registry refused the document.")


def _rid(page: Page) -> str | None:
    return getattr(page.request.state, "request_id", None)


def _api_failure(exc: Exception) -> PageError:
    if isinstance(exc, ApiError):
        if exc.status in (403, 404, 422):
            return PageError(404, NOT_FOUND)
        return PageError(502, "A service could not answer. Try again in a moment.")
    return PageError(503, "A service is not answering. Try again in a moment.")


def _case(page: Page, case_id: str, *, identity_reason: str | None = None) -> dict[str, Any]:
    assert page.user is not None
    params: dict[str, Any] = {}
    headers: dict[str, str] = {}
    if identity_reason:
        params["include_identity"] = "true"
        headers["X-Access-Reason"] = ascii_header(identity_reason)
    try:
        return dict(
            page.console.apis.intake.get(
                page.user, f"/v1/cases/{case_id[:64]}", params=params, headers=headers, request_id=_rid(page)
            )
        )
    except (ApiError, ApiUnavailable) as exc:
        raise _api_failure(exc) from None


def ascii_header(text: str) -> str:
    """HTTP headers are ASCII: accents are dropped (mañana -> manana) so the audited reason stays readable."""
    flat = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return " ".join(flat.split())[:500]


def _services(case: dict[str, Any], now: datetime) -> list[dict[str, Any]]:
    """Each service with its sessions and the next due one (shown, not judged: the alerts decide)."""
    sessions = case.get("sessions") or []
    out = []
    for sv in case.get("services") or []:
        mine = sorted(
            (s for s in sessions if s.get("service_id") == sv["service_id"]),
            key=lambda s: s.get("occurred_at") or "",
            reverse=True,
        )
        done = len(mine)
        planned = sv.get("sessions_planned")
        next_due = None
        if planned is None or done < planned:
            first = datetime.fromisoformat(str(sv["first_due_at"]).replace("Z", "+00:00"))
            if first.tzinfo is None:
                first = first.replace(tzinfo=UTC)
            if done == 0:
                next_due = first
            elif sv.get("interval_days"):
                next_due = first + timedelta(days=int(sv["interval_days"]) * done)
        out.append({**sv, "sessions": mine, "next_due": next_due, "overdue": bool(next_due and next_due < now)})
    return out


def load_views(page: Page, case_id: str, cursor: str | None = None, limit: int = VIEWS_ON_CASE_PAGE) -> dict[str, Any]:
    """One page of who read or changed the case (intake's ``/v1/cases/{id}/views``, newest first),
    with each actor named as the console knows them. ``items`` is None when the role may not see it."""
    assert page.user is not None
    out: dict[str, Any] = {"items": None, "next_cursor": None, "total": None, "error": None, "cursor": cursor}
    if not page.user.has(*VIEW_READERS):
        return out
    try:
        data = page.console.apis.intake.get(
            page.user,
            f"/v1/cases/{case_id[:64]}/views",
            params={"limit": limit, "cursor": cursor},
            request_id=_rid(page),
        )
    except ApiError as exc:
        if exc.status in (403, 404):
            return out  # not this user's to see: the section is left out
        out["items"], out["error"] = [], "The access record is not available right now."
        return out
    except ApiUnavailable:
        out["items"], out["error"] = [], "The case registry is not answering. Try again in a moment."
        return out
    people = {u.user_id: u for u in page.console.accounts.users.in_org(page.user.org)}
    items = []
    for item in data.get("items") or []:
        person = people.get(str(item.get("actor")))
        items.append({**item, "who": (person.display_name or person.username) if person else None})
    out.update(items=items, next_cursor=data.get("next_cursor") or None, total=data.get("total"))
    return out


def case_page(
    page: Page, case_id: str, *, identity_reason: str | None = None, status: int = 200, **extra: Any
) -> Response:
    user = page.user
    assert user is not None
    case = _case(page, case_id, identity_reason=identity_reason)
    timeline, timeline_note = None, None
    if user.has("legal_advocate", "supervisor"):
        try:
            timeline = page.console.apis.legal.get(user, f"/v1/cases/{case_id}/legal-timeline", request_id=_rid(page))
        except ApiError as exc:
            timeline_note = (
                "No prosecution has been recorded for this case yet."
                if exc.status == 404
                else "The prosecution timeline is not available for your role."
            )
        except ApiUnavailable:
            timeline_note = "The legal service is not answering."
    documents: list[dict[str, Any]] | None = None
    try:
        documents = list(
            page.console.apis.intake.get(user, f"/v1/cases/{case_id}/documents", request_id=_rid(page)) or []
        )
    except (ApiError, ApiUnavailable):
        documents = None  # not available to this role (or the service is down): the section is left out
    alerts: list[dict[str, Any]] = []
    alerts_error = None
    if user.has("legal_advocate", "supervisor"):
        alerts, alerts_error = load_inbox(page, {"status": "", "severity": "", "rule": ""}, case_id=case_id)
    views = load_views(page, case_id)
    return page.render(
        "case.html",
        status=status,
        case=case,
        services=_services(case, utcnow()),
        timeline=timeline,
        timeline_note=timeline_note,
        documents=documents,
        alerts=alerts,
        alerts_error=alerts_error,
        views=views,
        labels=labels,
        age=age,
        may_identity=user.has(*IDENTITY_ROLES),
        advocates=_advocates(page) if user.has(*MANAGERS) else [],
        may_manage=user.has(*MANAGERS),
        may_record_session=user.has(*SESSION_WRITERS),
        may_flag=user.has(*FLAG_WRITERS),
        may_legal=user.has(*LEGAL_WRITERS),
        form_errors=extra.pop("form_errors", {}),
        form=extra.pop("form", {}),
        open_form=extra.pop("open_form", None),
        now_local=page.console.fmt.local(utcnow()),
        **extra,
    )


@router.get("/cases")
def case_list(
    page: CaseReader,
    status: Annotated[str | None, Query(max_length=20)] = None,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> Response:
    assert page.user is not None
    # intake pages by cursor (page/page_size are deprecated there): the "more" link carries next_cursor
    params: dict[str, Any] = {"limit": 50, "cursor": cursor}
    if status in labels.CASE_STATUSES:
        params["status"] = status
    error = None
    data: dict[str, Any] = {"items": [], "total": None, "limit": 50, "next_cursor": None}
    try:
        data = page.console.apis.intake.get(page.user, "/v1/cases", params=params, request_id=_rid(page))
    except (ApiError, ApiUnavailable):
        error = "The case registry is not answering. Try again in a moment."
    return page.render(
        "cases.html", data=data, error=error, status_filter=status or "", labels=labels, cursor=cursor or ""
    )


@router.get("/cases/new")
def new_case_form(page: Annotated[Page, Depends(roles("intake_officer"))]) -> Response:
    return page.render("case_new.html", form={}, form_errors={}, labels=labels, advocates=_advocates(page))


def _advocates(page: Page) -> list[Any]:
    assert page.user is not None
    return [u for u in page.console.accounts.users.in_org(page.user.org) if u.active and u.has("legal_advocate")]


@router.post("/cases/new")
async def register_case(request: Request, page: Csrf) -> Response:
    if page.user is None or not page.user.has("intake_officer"):
        raise PageError(403, "Your role does not give access to this page.")
    form = {k: str(v) for k, v in (await request.form()).items() if isinstance(v, str)}
    exploitation = [
        str(v) for v in (await request.form()).getlist("exploitation_types") if v in labels.EXPLOITATION_TYPES
    ]
    errors: forms.Errors = {}
    identity: dict[str, Any] = {}
    for name in ("given_names", "family_names"):
        value = form.get(name, "").strip()
        if len(value) > 200:
            errors[name] = "At most 200 characters."
        elif value:
            identity[name] = value
    birth = forms.local_date(form, "birth_date", errors, not_future=True)
    if birth:
        identity["birth_date"] = birth.isoformat()
    sex = forms.choice(form, "sex", labels.SEX, errors, required=False)
    if sex:
        identity["sex"] = sex
    doc_type = forms.choice(form, "document_type", labels.DOCUMENT_TYPES, errors, required=False)
    doc_number = form.get("document_number", "").strip()
    if doc_number and not doc_type:
        errors["document_type"] = "Say which document this number belongs to."
    if doc_type and doc_number:
        identity["documents"] = [{"type": doc_type, "number": doc_number}]
    body: dict[str, Any] = {
        "identity": identity or None,
        "exploitation_types": exploitation,
        "consent_for_services": form.get("consent_for_services") == "on",
        "consent_reporting": form.get("consent_reporting") == "on",
    }
    ts = forms.choice(form, "trafficking_status", labels.TRAFFICKING_STATUSES, errors, required=False)
    if ts:
        body["trafficking_status"] = ts
    region = form.get("region", "").strip()
    if region:
        body["region"] = region[:64]
    rescue = forms.local_date(form, "rescue_date", errors, required=True, not_future=True)
    if rescue:
        body["rescue_date"] = rescue.isoformat()
    advocate = forms.ident(form, "advocate_id", errors, required=False)
    if advocate:
        body["advocate_id"] = advocate
    if not errors:
        try:
            created = page.console.apis.intake.post(page.user, "/v1/cases", body, request_id=_rid(page))
            page.flash("Case registered.")
            return redirect(f"/cases/{created['case_id']}", page)
        except ApiError as exc:
            errors.update(
                {forms.api_field(f): m for f, m in exc.fields.items()} or {"_": "The case registry refused the case."}
            )
        except ApiUnavailable:
            errors["_"] = "The case registry is not answering. Try again in a moment."
    safe_form = {k: v for k, v in form.items() if k not in ("csrf_token",)}
    return page.render(
        "case_new.html",
        status=422,
        form=safe_form,
        form_errors=errors,
        labels=labels,
        advocates=_advocates(page),
        exploitation=exploitation,
    )


@router.get("/cases/{case_id}")
def case_view(case_id: str, page: CaseReader) -> Response:
    return case_page(page, case_id)


@router.get("/cases/{case_id}/views")
def case_views(
    case_id: str,
    page: Annotated[Page, Depends(roles(*VIEW_READERS))],
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> Response:
    """The whole access record of the case, a page at a time (the case page shows the latest entries)."""
    views = load_views(page, case_id, cursor or None, limit=50)
    if views["items"] is None:
        raise PageError(404, NOT_FOUND)
    return page.render("case_views.html", case_id=case_id[:64], views=views, labels=labels)


@router.post("/cases/{case_id}/identity")
def case_identity(case_id: str, page: Csrf, reason: Annotated[str, Form(max_length=500)] = "") -> Response:
    # checked here too, so a role without the right never makes intake decrypt anything
    if page.user is None or not page.user.has(*IDENTITY_ROLES):
        raise PageError(403, "Your role does not allow seeing the child's identity.")
    reason = reason.strip()
    if len(reason) < 10:
        return case_page(
            page,
            case_id,
            status=422,
            form_errors={"reason": "Give a reason of at least 10 characters."},
            open_form="identity",
            form={"reason": reason},
        )
    return case_page(page, case_id, identity_reason=reason, identity_shown=True)


def _writer(page: Page, allowed: tuple[str, ...]) -> None:
    if page.user is None:
        raise Redirect("/login")
    if not page.user.has(*allowed):
        raise PageError(403, "Your role does not give access to this page.")


async def _writer_form(request: Request, page: Page, allowed: tuple[str, ...]) -> dict[str, str]:
    """The fields of a form that changes a case, once the user's role may send it."""
    _writer(page, allowed)
    return await _form(request)


async def _form(request: Request) -> dict[str, str]:
    return {k: v for k, v in (await request.form()).items() if isinstance(v, str) and k != "csrf_token"}


def _after_write(page: Page, case_id: str, message: str) -> Response:
    page.flash(message)
    return redirect(f"/cases/{case_id}", page)


def _api_errors(exc: ApiError, fallback: str) -> forms.Errors:
    if exc.status in (403, 404):
        return {"_": "You cannot change this case."}
    if exc.status == 413:
        return {"file": "The file is too large."}
    if exc.status == 415:
        return {"file": "This kind of file is not accepted: use PDF, PNG, JPEG, text or DOCX."}
    fields = {forms.api_field(f): m for f, m in exc.fields.items()}
    if fields:
        return fields
    return {"_": fallback}


def _send(
    page: Page,
    case_id: str,
    path: str,
    errors: forms.Errors,
    form: dict[str, Any],
    open_form: str,
    messages: tuple[str, str],
    method: str = "POST",
    **call: Any,
) -> Response:
    """One change to intake (``/v1/cases/{case_id}{path}``) unless the form already has errors:
    done, back to the case with ``done``; refused or unreachable, the case page again with the form
    open, what was typed kept, and the reason next to its field. ``messages``: (done, refused)."""
    done, refused = messages
    assert page.user is not None
    if not errors:
        try:
            page.console.apis.intake.call(
                page.user, method, f"/v1/cases/{case_id[:64]}{path}", request_id=_rid(page), **call
            )
            return _after_write(page, case_id, done)
        except ApiError as exc:
            errors = _api_errors(exc, refused)
        except ApiUnavailable:
            errors = {"_": "The case registry is not answering. Try again in a moment."}
    return case_page(page, case_id, status=422, form_errors=errors, form=form, open_form=open_form)


@router.post("/cases/{case_id}/services/{service_id}/sessions")
async def record_session(case_id: str, service_id: str, request: Request, page: Csrf) -> Response:
    form = await _writer_form(request, page, SESSION_WRITERS)
    body, errors = forms.session_body(form, page.console.fmt.tz, labels.SESSION_OUTCOMES, labels.MISSED_REASONS)
    return _send(
        page,
        case_id,
        f"/services/{service_id[:64]}/sessions",
        errors,
        {**form, "service_id": service_id},
        f"session-{service_id}",
        SESSION_SENT,
        json=body,
    )


@router.post("/cases/{case_id}/risk-flags")
async def flag_risk(case_id: str, request: Request, page: Csrf) -> Response:
    form = await _writer_form(request, page, FLAG_WRITERS)
    body, errors = forms.risk_body(form, page.console.fmt.tz, labels.RISK_KINDS, labels.SEVERITIES)
    return _send(page, case_id, "/risk-flags", errors, form, "risk", RISK_SENT, json=body)


@router.post("/cases/{case_id}/services")
async def plan_service(case_id: str, request: Request, page: Csrf) -> Response:
    form = await _writer_form(request, page, MANAGERS)
    errors: forms.Errors = {}
    kind = forms.choice(form, "service_kind", labels.SERVICE_KINDS, errors)
    provider = forms.ident(form, "provider_org_id", errors)
    first = forms.local_datetime(form, "first_due_at", page.console.fmt.tz, errors)
    body: dict[str, Any] = {
        "service_kind": kind,
        "provider_org_id": provider,
        "first_due_at": first.isoformat() if first else None,
    }
    for name, low, high in (("interval_days", 1, 365), ("sessions_planned", 1, 500)):
        raw = form.get(name, "").strip()
        if raw:
            if raw.isdigit() and low <= int(raw) <= high:
                body[name] = int(raw)
            else:
                errors[name] = page._("Enter a whole number between %(low)s and %(high)s.", low=low, high=high)
    return _send(page, case_id, "/services", errors, form, "service", SERVICE_SENT, json=body)


@router.post("/cases/{case_id}/follow-ups")
async def plan_followup(case_id: str, request: Request, page: Csrf) -> Response:
    form = await _writer_form(request, page, MANAGERS)
    errors: forms.Errors = {}
    by = forms.local_date(form, "followup_needed_by_date", errors, required=True)
    body = {
        "kind": forms.choice(form, "followup_kind", labels.FOLLOWUP_KINDS, errors),
        "followup_needed_by_date": by.isoformat() if by else None,
    }
    return _send(page, case_id, "/follow-ups", errors, form, "followup", FOLLOWUP_PLANNED, json=body)


@router.post("/cases/{case_id}/follow-ups/{followup_id}")
async def record_followup(case_id: str, followup_id: str, request: Request, page: Csrf) -> Response:
    form = await _writer_form(request, page, MANAGERS)
    errors: forms.Errors = {}
    done = forms.local_date(form, "done_date", errors, required=True, not_future=True)
    outcome = forms.choice(form, "outcome", labels.FOLLOWUP_OUTCOMES, errors)
    return _send(
        page,
        case_id,
        f"/follow-ups/{followup_id[:64]}",
        errors,
        form,
        f"followup-{followup_id}",
        FOLLOWUP_SENT,
        "PATCH",
        json={"done_date": done.isoformat() if done else None, "outcome": outcome},
    )


@router.post("/cases/{case_id}/documents")
async def add_document(case_id: str, request: Request, page: Csrf) -> Response:
    _writer(page, CASE_READERS)
    assert page.user is not None
    form = await request.form()
    errors: forms.Errors = {}
    upload = form.get("file")
    category = forms.choice(
        {"category": str(form.get("category") or "")}, "category", labels.DOCUMENT_CATEGORIES, errors
    )
    title = str(form.get("title") or "").strip()[:200]
    if isinstance(upload, str) or upload is None or not upload.filename:
        errors["file"] = "Choose a file."
    call: dict[str, Any] = {}
    if not errors:
        assert upload is not None and not isinstance(upload, str) and category is not None
        kind = upload.content_type or "application/octet-stream"
        call["files"] = {"file": (upload.filename or "document", await upload.read(), kind)}
        call["data"] = {"category": category, **({"title": title} if title else {})}
    return _send(
        page,
        case_id,
        "/documents",
        errors,
        {"category": category or "", "title": title},
        "document",
        DOCUMENT_SENT,
        **call,
    )


@router.get("/cases/{case_id}/documents/{doc_id}")
def read_document(case_id: str, doc_id: str, page: CaseReader) -> Response:
    """The content, from intake (which audits the read), named by the document id, never cached."""
    assert page.user is not None
    try:
        r = page.console.apis.intake.call(
            page.user, "GET", f"/v1/cases/{case_id[:64]}/documents/{doc_id[:64]}", raw=True, request_id=_rid(page)
        )
    except (ApiError, ApiUnavailable) as exc:
        raise _api_failure(exc) from None
    return Response(
        r.content,
        media_type=r.headers.get("content-type", "application/octet-stream"),
        headers={
            "Content-Disposition": r.headers.get("content-disposition", f'attachment; filename="{doc_id[:64]}"'),
            "Cache-Control": "no-store",
        },
    )


@router.get("/cases/{case_id}/legal-events/new")
def legal_event_form(
    case_id: str,
    page: Annotated[Page, Depends(roles(*LEGAL_WRITERS))],
    kind: Annotated[str, Query(max_length=40)] = "stage_changed",
) -> Response:
    kind = kind if kind in labels.COURT_KINDS else "stage_changed"
    form = {"kind": kind, "update_id": f"con-{uuid.uuid4().hex}"}
    template = "partials/legal_fields.html" if page.is_htmx else "legal_event.html"
    _case(page, case_id)  # 404 for a case that is not the user's, before showing a form for it
    return page.render(
        template, case_id=case_id, form=form, form_errors={}, labels=labels, now_local=page.console.fmt.local(utcnow())
    )


@router.post("/cases/{case_id}/legal-events")
async def record_legal_event(case_id: str, request: Request, page: Csrf) -> Response:
    form = await _writer_form(request, page, LEGAL_WRITERS)
    assert page.user is not None
    settings = page.console.settings
    body, errors = forms.court_update_body(
        form,
        case_id[:64],
        settings.console_legal_source_system,
        page.console.fmt.tz,
        labels.COURT_KINDS,
        labels.COURT_FIELDS,
        labels.STAGES,
        labels.COMPLEXITIES,
        labels.VERDICTS,
    )
    if not errors:
        try:
            result = page.console.apis.legal.post(
                page.user,
                "/v1/court-updates",
                body,
                request_id=_rid(page),
            )
            item = (result.get("results") or [{}])[0]
            if item.get("status") in ("accepted", "duplicate"):
                return _after_write(page, case_id, "Legal event recorded.")
            reason = str(item.get("reason") or "")
            field = forms.api_field(reason)
            key = (
                field if field in labels.COURT_FIELDS.get(str(body.get("kind")), ()) or field == "occurred_at" else "_"
            )
            errors = {key: page._("The legal service refused it: %(reason)s", reason=reason)}
        except ApiError as exc:
            if exc.status == 403:
                errors = {"_": "The legal service does not accept legal events from your role for this case."}
            else:
                errors = _api_errors(exc, "The legal service refused the legal event.")
        except ApiUnavailable:
            errors = {"_": "The legal service is not answering. Try again in a moment."}
    return page.render(
        "legal_event.html",
        status=422,
        case_id=case_id,
        form=form,
        form_errors=errors,
        labels=labels,
        now_local=page.console.fmt.local(utcnow()),
    )


@router.get("/me", include_in_schema=False)
def me(page: SignedIn) -> Response:
    return redirect("/account")
