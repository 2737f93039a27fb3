"""The yearly maturity assessment's workflow as a table: every action in every state for every role
moves as the table says, or is refused with a Vietnamese sentence (like tests/test_workflow.py)."""

import itertools

import pytest

from kpi.common.access import ROLES
from kpi.workflows import assessment as asm

# The expected machine, written out independently of kpi.workflows.assessment.TRANSITIONS.
PRINCIPAL, OFFICE = {"hieu_truong"}, {"chuyen_vien"}
EXPECTED = {
    ("chua_bat_dau", "luu"): ("nhap", PRINCIPAL), ("nhap", "luu"): ("nhap", PRINCIPAL),
    ("tra_lai", "luu"): ("tra_lai", PRINCIPAL),
    ("chua_bat_dau", "nop"): ("da_nop", PRINCIPAL), ("nhap", "nop"): ("da_nop", PRINCIPAL),
    ("tra_lai", "nop"): ("da_nop", PRINCIPAL),
    ("da_nop", "xac_nhan"): ("da_nop", OFFICE), ("da_nop", "tra_lai"): ("tra_lai", OFFICE),
    ("da_nop", "duyet"): ("da_duyet", OFFICE),
    ("da_duyet", "cong_bo"): ("da_cong_bo", OFFICE), ("da_duyet", "mo_lai"): ("tra_lai", OFFICE),
}
CASES = list(itertools.product(asm.STATES, asm.ACTIONS, ROLES))


def test_every_state_action_and_role_is_covered():
    assert len(CASES) == 6 * 7 * 4


@pytest.mark.parametrize("state, action, role", CASES, ids=["-".join(c) for c in CASES])
def test_move_or_refusal(state, action, role):
    move = EXPECTED.get((state, action))
    if move is not None and role in move[1]:
        assert asm.next_state(state, action, role) == move[0]
        assert asm.allowed(state, action, role) and action in asm.actions_for(state, role)
        return
    with pytest.raises(asm.AssessmentError) as refused:
        asm.next_state(state, action, role)
    text = str(refused.value)
    assert not asm.allowed(state, action, role) and action not in asm.actions_for(state, role)
    if move is None:  # nobody may: the message says why, from the state
        assert text == f"Không thể {asm.ACTIONS[action]}: {asm._WHY[state]}."
    else:  # someone else may: the message names who
        assert text.startswith(f"Tài khoản {ROLES[role]} không được {asm.ACTIONS[action]}")
        assert all(ROLES[r] in text for r in move[1])


def test_the_table_is_the_machine():
    assert {k: (v[0], set(v[1])) for k, v in asm.TRANSITIONS.items()} == EXPECTED


def test_exact_messages():
    with pytest.raises(asm.AssessmentError, match="^Không thể lưu nháp: kết quả năm học đã công bố và không còn thay "
                                                  "đổi.$"):
        asm.next_state("da_cong_bo", "luu", "hieu_truong")
    with pytest.raises(asm.AssessmentError, match="^Tài khoản Nhập liệu của trường không được nộp bản tự đánh giá; "
                                                  "việc này do Hiệu trưởng làm.$"):
        asm.next_state("nhap", "nop", "truong_nhap_lieu")
    with pytest.raises(asm.AssessmentError, match="^Trạng thái 'x' không có trong quy trình.$"):
        asm.next_state("x", "luu", "hieu_truong")
