"""One shared base for the versioned, audited record (kpi.workflows.record): a school's entry and its
maturity assessment are refused on a stale version and outside the user's scope, and bump their
store version, by the same code; a planted broken base changes both at once."""

import pytest

from kpi.store import state
from kpi.workflows import assessment as asm
from kpi.workflows import entry, record
from tests.conftest import STORES, on_store
from tests.test_assessment import HT_TH, YEAR, desk_for
from tests.test_entry import PERIOD, _fresh_school, desk, principal

ASSESSED = ("TH001", {"DH4": {"points": 4}})


@pytest.fixture(params=STORES)
def entry_db(request, entry_db):
    """The sample's copy on either state store: every test here runs on SQLite and on PostgreSQL."""
    return on_store(request, entry_db)


def _stale_saves(path) -> tuple:
    """(entry, assessment) after a save of each made on the version before the current one; a
    refused save gives the Conflict instead."""
    sid = _fresh_school(path)
    ht = principal(sid)
    d = desk(path, ht)
    first = d.save(ht, sid, *PERIOD, {"hs_tong": "100"}, {}, 0)
    a = desk_for(path, HT_TH)
    current = a.assessment(HT_TH, ASSESSED[0], YEAR)
    out = []
    for save in (lambda: d.save(ht, sid, *PERIOD, {"hs_tong": "101"}, {}, first.version - 1),
                 lambda: a.save(HT_TH, ASSESSED[0], YEAR, ASSESSED[1], current.version - 1)):
        try:
            out.append(save())
        except (entry.Conflict, asm.Conflict) as e:
            out.append(e)
    return tuple(out)


def test_entry_and_assessment_are_one_record():
    assert issubclass(entry.Desk, record.RecordDesk) and issubclass(asm.Assessor, record.RecordDesk)
    assert issubclass(entry.EntryError, record.RecordError) and issubclass(asm.AssessmentError, record.RecordError)
    assert (entry.Desk.COUNTER, asm.Assessor.COUNTER) == ("workflow", "assessment")
    assert entry.when is record.when and asm.when is record.when and entry.REASON_MAX == asm.REASON_MAX


def test_both_refuse_a_stale_version_through_the_base(entry_db):
    e, a = _stale_saves(entry_db)
    assert isinstance(e, entry.Conflict) and "Thay đổi của bạn chưa được lưu" in str(e)
    assert isinstance(a, asm.Conflict) and "Thay đổi của bạn chưa được lưu" in str(a)


def test_planted_no_version_check_in_the_base_lets_both_stale_saves_through(entry_db, monkeypatch):
    monkeypatch.setattr(record.RecordDesk, "check_version", lambda self, seen, current, message: None)
    e, a = _stale_saves(entry_db)
    assert isinstance(e, entry.Entry) and isinstance(a, asm.Assessment)


def test_both_bump_their_version_in_the_change(entry_db, monkeypatch):
    store = state.store_for(entry_db)
    before = store.counter("workflow"), store.counter("assessment")
    _stale_saves(entry_db)  # one good save of each, one refused
    assert (store.counter("workflow"), store.counter("assessment")) == (before[0] + 1, before[1])
    a = desk_for(entry_db, HT_TH)
    a.save(HT_TH, ASSESSED[0], YEAR, ASSESSED[1], a.assessment(HT_TH, ASSESSED[0], YEAR).version)
    assert store.counter("assessment") == before[1] + 1
    # planted: a change that forgets the bump leaves the readers' caches on the old version
    monkeypatch.setattr(state, "bump", lambda con, counter: None)
    a.save(HT_TH, ASSESSED[0], YEAR, ASSESSED[1], a.assessment(HT_TH, ASSESSED[0], YEAR).version)
    assert store.counter("assessment") == before[1] + 1


def test_both_refuse_another_school_and_audit_it(entry_db, monkeypatch):
    sid = _fresh_school(entry_db)
    other = principal("THCS001")
    store = state.store_for(entry_db)
    with pytest.raises(entry.EntryError, match="không có quyền"):
        desk(entry_db, other).save(other, sid, *PERIOD, {"hs_tong": "1"}, {}, 0)
    with pytest.raises(asm.AssessmentError, match="không có quyền"):
        desk_for(entry_db, other).save(other, "TH001", YEAR, ASSESSED[1], 0)
    refused = [r["detail"] for r in store.audit_rows(2, "tu_choi") if r["user_name"] == other.user_name]
    assert f'"{sid}"' in refused[1] and '"TH001"' in refused[0] and "danh_gia_luu" in refused[0]
    # planted: a base that lets every school through lets a principal write another school's record
    monkeypatch.setattr(record.RecordDesk, "in_scope", lambda self, user, school_id: True)
    d = desk(entry_db, other)
    d.schools[sid] = desk(entry_db, principal(sid)).schools[sid]
    assert d.save(other, sid, *PERIOD, {"hs_tong": "1"}, {}, 0).version == 1
