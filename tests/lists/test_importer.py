"""CSV import of contacts: good rows, bad rows with reasons, encodings, header variants."""

from __future__ import annotations

import codecs

import pytest
from sqlalchemy import select

from tidings.consent import service as consent
from tidings.consent.models import Consent, ConsentAgreement
from tidings.contacts import service as contacts
from tidings.contacts.models import Contact
from tidings.errors import Invalid, NotFound
from tidings.lists import service as lists
from tidings.lists.importer import ImportResult, decode, import_contacts, parse_csv
from tidings.lists.models import Subscription
from tidings.runtime import Runtime


def _list(runtime: Runtime, name: str = "Imported") -> int:
    with runtime.session() as session:
        return lists.create_list(session=session, name=name).id


def _reasons(result: ImportResult) -> dict[int, str]:
    return {p.row: p.reason for p in result.problems if p.rejected}


def _statuses(runtime: Runtime, list_id: int) -> dict[str, str]:
    with runtime.session() as session:
        rows = session.execute(
            select(Contact.email, Subscription.status)
            .join(Subscription, Subscription.contact_id == Contact.id)
            .where(Subscription.list_id == list_id)
        ).all()
    return {email: status for email, status in rows}


def test_good_and_bad_rows(runtime: Runtime) -> None:
    list_id = _list(runtime)
    data = (
        b"email,first_name,last_name,company,plan\n"
        b"ada@example.com,Ada,Lovelace,Analytical Engines,pro\n"
        b"not-an-email,Bad,Row,,\n"
        b",Nobody,Here,Acme,\n"
        b"GRACE@Example.com , Grace ,Hopper,Navy,\n"
        b"ada@example.com,Ada,Again,,\n"
        b"alan@example.com,Alan,Turing,,free,extra-value\n"
        b"\n"
        b"katherine@example.com,Katherine,Johnson,NASA,\n"
    )
    progress: list[tuple[int, int]] = []
    result = import_contacts(
        runtime=runtime,
        data=data,
        list_id=list_id,
        batch_size=2,
        on_progress=lambda done, total: progress.append((done, total)),
    )
    assert result.created == 3 and result.accepted == 3
    assert result.rejected == 4 and result.rows == 7
    reasons = _reasons(result)
    assert reasons[3].startswith("invalid email")
    assert reasons[4] == "missing email"
    assert reasons[6] == "duplicate of row 2"
    assert reasons[7] == "6 values but the header has 5 columns"
    values = {p.row: p.value for p in result.problems}
    assert values[3] == "not-an-email" and "Nobody" in values[4]
    assert progress[0] == (0, 3) and progress[-1] == (3, 3)
    with runtime.session() as session:
        ada = contacts.find_by_email(session=session, email="ada@example.com")
        grace = contacts.find_by_email(session=session, email="grace@example.com")
        assert ada is not None and grace is not None
        assert (ada.first_name, ada.last_name) == ("Ada", "Lovelace")
        assert ada.fields == {"company": "Analytical Engines", "plan": "pro"}
        assert grace.first_name == "Grace" and grace.fields == {"company": "Navy"}
    assert _statuses(runtime, list_id) == {
        "ada@example.com": "subscribed",
        "grace@example.com": "subscribed",
        "katherine@example.com": "subscribed",
    }


def test_existing_contacts_are_updated_and_unsubscribed_stay_out(runtime: Runtime) -> None:
    list_id = _list(runtime)
    with runtime.session() as session:
        ada = contacts.create(
            session=session, email="ada@example.com", first_name="Ada", fields={"plan": "free"}
        )
        left = contacts.create(session=session, email="left@example.com")
        same = contacts.create(session=session, email="same@example.com", first_name="Same")
        lists.subscribe(session=session, list_id=list_id, contact_id=left.id)
        lists.unsubscribe(session=session, list_id=list_id, contact_id=left.id)
        lists.subscribe(session=session, list_id=list_id, contact_id=same.id)
        ada_id = ada.id
    data = (
        b"Email,First Name,Plan\n"
        b"ada@example.com,,pro\nleft@example.com,Lefty,\nsame@example.com,Same,\n"
    )
    result = import_contacts(runtime=runtime, data=data, list_id=list_id)
    assert (result.created, result.updated, result.unchanged) == (0, 2, 1)
    assert (result.subscribed, result.already_subscribed, result.kept_unsubscribed) == (1, 1, 1)
    notes = [p for p in result.problems if not p.rejected]
    assert [(n.row, n.value) for n in notes] == [(3, "left@example.com")]
    assert "not resubscribed" in notes[0].reason
    with runtime.session() as session:
        ada = contacts.get(session=session, contact_id=ada_id)
        assert ada.first_name == "Ada"  # an empty cell leaves the value alone
        assert ada.fields == {"plan": "pro"}
    assert _statuses(runtime, list_id)["left@example.com"] == "unsubscribed"
    assert _statuses(runtime, list_id)["ada@example.com"] == "subscribed"


@pytest.mark.parametrize(
    ("header", "row"),
    [
        ("E-Mail;Vorname;Nachname", "eva@example.com;Eva;Muster"),
        ("Email Address\tGiven Name\tSurname", "eva@example.com\tEva\tMuster"),
        ('"EMAIL","FirstName","LastName"', '"eva@example.com","Eva","Muster"'),
        ("mail|first|last", "eva@example.com|Eva|Muster"),
    ],
)
def test_header_variants_and_delimiters(header: str, row: str) -> None:
    parsed = parse_csv(f"{header}\r\n{row}\r\n".encode())
    assert parsed.problems == []
    [good] = parsed.rows
    assert good.email == "eva@example.com"
    if "Vorname" in header:  # unknown headers become custom fields
        assert good.fields == {"vorname": "Eva", "nachname": "Muster"}
    else:
        assert (good.first_name, good.last_name) == ("Eva", "Muster")


@pytest.mark.parametrize(
    ("encoded", "encoding"),
    [
        (codecs.BOM_UTF8 + "email,first_name\nzoe@example.com,Zoë\n".encode(), "utf-8 (with BOM)"),
        ("email,first_name\nzoe@example.com,Zoë\n".encode(), "utf-8"),
        ("email,first_name\nzoe@example.com,Zoë\n".encode("cp1252"), "windows-1252"),
        ("email,first_name\nzoe@example.com,Zoë\n".encode("utf-16"), "utf-16"),
    ],
)
def test_encodings(encoded: bytes, encoding: str) -> None:
    assert decode(encoded)[1] == encoding
    parsed = parse_csv(encoded)
    assert parsed.encoding == encoding
    assert [(r.email, r.first_name) for r in parsed.rows] == [("zoe@example.com", "Zoë")]


def test_whole_file_problems_write_nothing(runtime: Runtime) -> None:
    with pytest.raises(Invalid, match="no email column"):
        import_contacts(runtime=runtime, data=b"name,phone\nAda,123\n")
    with pytest.raises(Invalid, match="empty"):
        import_contacts(runtime=runtime, data=b"\n\n")
    with pytest.raises(Invalid, match="two columns"):
        import_contacts(runtime=runtime, data=b"email,e-mail\na@example.com,b@example.com\n")
    with pytest.raises(NotFound):
        import_contacts(runtime=runtime, data=b"email\na@example.com\n", list_id=999_999)
    with runtime.session() as session:
        assert session.scalars(select(Contact)).all() == []


def test_unreadable_rows_and_long_values(runtime: Runtime) -> None:
    data = (
        b"email,first_name,note\n"
        b"ok@example.com,Ok,fine\n"
        b"nul@example.com,Nul\x00,x\n"
        + b"long@example.com,"
        + b"L" * 201
        + b",x\n"
        + b'"quoted@example.com","multi\nline",yes\n'
        + b"huge@example.com,Huge,"
        + b"h" * 200_000
        + b"\n"
        + b"after@example.com,After,x\n"
    )
    result = import_contacts(runtime=runtime, data=data)
    reasons = _reasons(result)
    assert reasons[3].startswith("contains a NUL character")
    assert reasons[4] == "first_name is longer than 200 characters"
    assert reasons[6].startswith("unreadable CSV: field larger than field limit")
    assert result.created == 3
    with runtime.session() as session:
        quoted = contacts.find_by_email(session=session, email="quoted@example.com")
        assert quoted is not None and quoted.first_name == "multi\nline"


def test_custom_fields_follow_the_field_rules(runtime: Runtime) -> None:
    """The rules of contacts.fields: too many or unusable columns refuse the file; a row
    with a value too long, or one that would give its contact too many fields, is
    reported and skipped while the others are written."""
    wide = ",".join(f"c{i}" for i in range(101))
    with pytest.raises(Invalid, match="101 custom field columns"):
        import_contacts(runtime=runtime, data=f"email,{wide}\na@example.com\n".encode())
    with pytest.raises(Invalid, match="cannot be a custom field"):
        import_contacts(runtime=runtime, data=b"email," + b"n" * 101 + b"\na@example.com,x\n")
    with runtime.session() as session:
        assert session.scalars(select(Contact)).all() == []
        full = contacts.create(
            session=session, email="full@example.com", fields={f"f{i}": i for i in range(99)}
        )
        full_id = full.id
    data = (
        b"email,note,extra\n"
        b"ok@example.com,fine,1\n"
        b"long@example.com," + b"v" * 2001 + b",2\n"
        b"full@example.com,one,two\n"
        b"fits@example.com,,\n"
    )
    result = import_contacts(runtime=runtime, data=data)
    reasons = _reasons(result)
    assert reasons[3] == "note: at most 2000 characters"
    assert reasons[4] == "the contact would have more than 100 custom fields"
    assert (result.created, result.updated, result.rejected, result.rows) == (2, 0, 2, 4)
    with runtime.session() as session:
        assert len(contacts.get(session=session, contact_id=full_id).fields) == 99
        ok = contacts.find_by_email(session=session, email="ok@example.com")
        assert ok is not None and ok.fields == {"note": "fine", "extra": "1"}


def test_consents_column(runtime: Runtime) -> None:
    with runtime.session() as session:
        consent.create_consent(
            session=session, code_name="newsletter_profile", display_name="Profile", text="v1"
        )
    data = (
        b"email,consent\n"
        b"yes@example.com,yes\n"
        b"no@example.com,no\n"
        b"both@example.com,tracking|newsletter_profile\n"
        b"bad@example.com,marketing\n"
    )
    ignored = import_contacts(runtime=runtime, data=data)
    assert ignored.created == 4 and ignored.agreements == 0
    assert ignored.notes and "ignored" in ignored.notes[0]
    result = import_contacts(runtime=runtime, data=data, record_consents=True, source="import:test")
    assert result.agreements == 3
    assert _reasons(result)[5].startswith("unknown consent 'marketing'")
    with runtime.session() as session:
        agreed = session.execute(
            select(Contact.email, Consent.code_name, ConsentAgreement.source)
            .join(ConsentAgreement, ConsentAgreement.contact_id == Contact.id)
            .join(Consent, Consent.id == ConsentAgreement.consent_id)
        ).all()
    assert sorted(agreed) == [
        ("both@example.com", "newsletter_profile", "import:test"),
        ("both@example.com", "tracking", "import:test"),
        ("yes@example.com", "tracking", "import:test"),
    ]
    again = import_contacts(runtime=runtime, data=data, record_consents=True)
    assert again.agreements == 0  # agreeing again to the same text changes nothing


def test_a_thousand_rows_in_batches(runtime: Runtime) -> None:
    list_id = _list(runtime)
    lines = ["email,first_name"] + [f"p{i}@example.com,P{i}" for i in range(1000)]
    lines.insert(500, "broken,row")
    result = import_contacts(
        runtime=runtime, data="\n".join(lines).encode(), list_id=list_id, batch_size=300
    )
    assert result.created == 1000 and result.subscribed == 1000 and result.rejected == 1
    assert len(_statuses(runtime, list_id)) == 1000
