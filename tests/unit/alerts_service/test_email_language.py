"""Alert e-mails in the recipient's language (Spanish by default, English), from gettext catalogues
that translate every message the code uses (no network)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po

from services.alerts import i18n
from services.alerts.domain.messages import escalated_message, raised_message
from services.alerts.domain.rule_texts import RULE_TEXTS
from services.alerts.settings import AlertsSettings
from services.processor.domain.policy import DEFAULT_POLICY_FILE

ROOT = Path(__file__).resolve().parents[3]
SOURCES = ["services/alerts/domain/messages.py", "services/alerts/domain/rule_texts.py"]
KEYWORDS = {"_": None, "N_": None, "n_": (1, 2)}
ALERT = {
    "_id": "al_1",
    "case_id": "CEN-2025-0042",
    "rule": "legal.no_activity",
    "severity": "critical",
    "advocate_id": "adv-1",
    "summary": "Rosa Quispe: no court activity",  # never copied into an e-mail
    "evidence": {"child": "Rosa Quispe"},
    "raised_at": datetime(2025, 3, 4, 15, 30, tzinfo=UTC),
}
SETTINGS = AlertsSettings(public_base_url="https://consola.ong.pe/")


def catalogue(language: str) -> dict[object, object]:
    path = i18n.LOCALE_DIR / language / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as f:
        return {m.id: m.string for m in read_po(f, locale=language) if m.id}


def used_msgids() -> set[object]:
    return {msg for path in SOURCES for _, msg, _, _ in extract_from_file("python", ROOT / path, keywords=KEYWORDS)}


@pytest.mark.parametrize("language", i18n.LANGUAGES)
def test_every_msgid_the_code_uses_is_translated(language: str) -> None:
    strings = catalogue(language)
    used = used_msgids()
    assert len(used) > 30
    missing = [m for m in used if m not in strings]
    assert not missing, f"{language}: not in the catalogue: {missing}"
    untranslated = [m for m, s in strings.items() if not s or (isinstance(s, tuple) and not all(s))]
    assert not untranslated, f"{language}: untranslated: {untranslated}"


def test_spanish_is_really_spanish() -> None:
    es = catalogue("es")
    same = [m for m, s in es.items() if s == m and m not in ("Case: {case}",)]
    assert not same, f"copied from English, not translated: {same}"


def test_every_shipped_rule_has_plain_words() -> None:
    shipped = yaml.safe_load(DEFAULT_POLICY_FILE.read_text())["rules"]
    assert set(shipped) <= set(RULE_TEXTS), set(shipped) - set(RULE_TEXTS)


def test_spanish_by_default_with_the_console_link_and_no_personal_data() -> None:
    msg = raised_message(SETTINGS, ALERT)
    assert msg["language"] == "es"
    assert msg["subject"] == (
        "[centinela] Alerta crítica: El proceso penal lleva demasiado tiempo sin actividad (caso CEN-2025-0042)"
    )
    body = msg["body"]
    assert "Abra la alerta en la consola (requiere iniciar sesión): https://consola.ong.pe/v1/alerts/al_1" in body
    assert "Gravedad: crítica" in body and "Caso: CEN-2025-0042" in body
    assert "04/03/2025 10:30 (America/Lima)" in body  # Peruvian order, Lima time
    assert "Rosa" not in body and "Quispe" not in body and "Rosa" not in msg["subject"]


def test_english_on_request_and_unknown_languages_fall_back_to_the_setting() -> None:
    en = raised_message(SETTINGS, ALERT, "en")
    assert en["subject"].startswith("[centinela] critical alert: The prosecution has had no activity for too long")
    assert "Open the alert in the console (sign-in required): https://consola.ong.pe/v1/alerts/al_1" in en["body"]
    assert raised_message(SETTINGS, ALERT, "fr")["language"] == "es"
    english_default = AlertsSettings(alerts_default_language="en")
    assert raised_message(english_default, ALERT, None)["language"] == "en"
    assert raised_message(english_default, ALERT, "es")["language"] == "es"


def test_escalation_in_both_languages_with_plurals() -> None:
    es = escalated_message(SETTINGS, ALERT, 3, timedelta(days=1))
    assert "Escalamiento nivel 3" in es["subject"] and "no ha sido atendida en 3 días." in es["body"]
    one = escalated_message(SETTINGS, ALERT, 1, timedelta(hours=1))
    assert "no ha sido atendida en 1 hora." in one["body"]
    en = escalated_message(SETTINGS, ALERT, 3, timedelta(days=1), "en")
    assert "escalation level 3" in en["subject"] and "within 3 days." in en["body"]
    assert "Rosa" not in es["body"] + en["body"]


def test_a_rule_without_words_is_named_by_its_id() -> None:
    msg = raised_message(SETTINGS, {**ALERT, "rule": "future.rule"})
    assert "future.rule" in msg["subject"]


def test_catalogues_compile_and_an_unknown_language_is_refused() -> None:
    i18n.load_catalogues()
    with pytest.raises(i18n.CatalogueError, match="fr"):
        i18n.translations("fr")
