"""The workflow as a table: every action in every state for every role moves as the table says, or is
refused with a Vietnamese sentence."""

import itertools

import pytest

from kpi.common.access import ROLES
from kpi.domain import workflow

# The expected machine, written out independently of kpi.domain.workflow.TRANSITIONS: (state, action) →
# (next state, roles). Everything not listed is refused.
SCHOOL, OFFICE = {"hieu_truong", "truong_nhap_lieu"}, {"chuyen_vien"}
EXPECTED = {
    ("chua_nhap", "luu"): ("nhap", SCHOOL), ("nhap", "luu"): ("nhap", SCHOOL), ("tra_lai", "luu"): ("tra_lai", SCHOOL),
    ("chua_nhap", "nop"): ("da_nop", SCHOOL), ("nhap", "nop"): ("da_nop", SCHOOL),
    ("tra_lai", "nop"): ("da_nop", SCHOOL),
    ("da_nop", "tra_lai"): ("tra_lai", OFFICE), ("da_nop", "duyet"): ("da_duyet", OFFICE),
    ("da_duyet", "khoa"): ("da_khoa", OFFICE),
    ("da_duyet", "mo_lai"): ("tra_lai", OFFICE), ("da_khoa", "mo_lai"): ("tra_lai", OFFICE),
}
CASES = list(itertools.product(workflow.STATES, workflow.ACTIONS, ROLES))


def test_every_state_action_and_role_is_covered():
    assert set(ROLES) == {"lanh_dao", "chuyen_vien", "hieu_truong", "truong_nhap_lieu"}
    assert len(CASES) == 6 * 6 * 4


@pytest.mark.parametrize("state, action, role", CASES, ids=["-".join(c) for c in CASES])
def test_move_or_refusal(state, action, role):
    move = EXPECTED.get((state, action))
    if move is not None and role in move[1]:
        assert workflow.next_state(state, action, role) == move[0]
        assert workflow.allowed(state, action, role) and action in workflow.actions_for(state, role)
        return
    with pytest.raises(workflow.Refused) as refused:
        workflow.next_state(state, action, role)
    text = str(refused.value)
    assert not workflow.allowed(state, action, role) and action not in workflow.actions_for(state, role)
    assert text.startswith(("Không thể ", "Tài khoản ")) and workflow.ACTIONS[action] in text
    if move is None:  # nobody may: the message says why, from the state
        assert text == f"Không thể {workflow.ACTIONS[action]}: {workflow._WHY[state]}."
    else:  # someone else may: the message names who
        assert text.startswith(f"Tài khoản {ROLES[role]} không được {workflow.ACTIONS[action]}")
        assert all(ROLES[r] in text for r in move[1])


def test_the_table_is_the_machine():
    """The module's table and the one written out here agree (a move added to one must be added to
    the other, with its test)."""
    assert {k: (v[0], set(v[1])) for k, v in workflow.TRANSITIONS.items()} == EXPECTED


def test_exact_messages():
    with pytest.raises(workflow.Refused, match="^Không thể lưu nháp: số liệu đã nộp, đang chờ Phòng duyệt.$"):
        workflow.next_state("da_nop", "luu", "hieu_truong")
    with pytest.raises(workflow.Refused, match="^Tài khoản Hiệu trưởng không được duyệt; việc này do Chuyên viên "
                                               "Phòng làm.$"):
        workflow.next_state("da_nop", "duyet", "hieu_truong")
    with pytest.raises(workflow.Refused, match="^Tài khoản Lãnh đạo Phòng không được trả lại"):
        workflow.next_state("da_nop", "tra_lai", "lanh_dao")
    with pytest.raises(workflow.Refused, match="không có trong quy trình"):
        workflow.next_state("da_nop", "xoa", "chuyen_vien")


@pytest.mark.parametrize("stored, is_open, locked, expected", [
    (None, True, False, "chua_nhap"),
    (None, False, False, "da_khoa"),      # an older period: reached only through a reopening
    (None, True, True, "da_khoa"),
    ("nhap", True, False, "nhap"),
    ("nhap", True, True, "da_khoa"),      # a draft left when the period was locked
    ("nhap", False, False, "da_khoa"),
    ("da_nop", False, True, "da_nop"),    # a submission still waits for its decision
    ("tra_lai", True, True, "tra_lai"),   # reopened after the lock: the school may correct
    ("da_duyet", True, False, "da_duyet"),
    ("da_duyet", True, True, "da_khoa"),  # approved again after a reopening: locked again
    ("da_khoa", True, False, "da_khoa"),
])
def test_effective_state(stored, is_open, locked, expected):
    assert workflow.effective_state(stored, is_open, locked) == expected
