"""A school's figures for a period as a small state machine written as data (like DHIS2's approval).

    chưa nhập ──lưu──► nháp ──nộp──► đã nộp ──duyệt──► đã duyệt ──khóa kỳ──► đã khóa
        └──────────nộp─────────────────┘ │                  │                   │
                                         └──trả lại──► trả lại ◄──mở lại──────┴───┘
                                           (lưu, nộp again)

`TRANSITIONS` is the whole machine: (state, action) → (next state, roles allowed). Schools (the
principal, or the school's data-entry account) save and submit; the Phòng's staff return (with a
reason the school sees), approve, lock a period and reopen an approved or locked school (with a
reason: a correction after lock). The office's leadership reads only. Anything else is refused
with a Vietnamese sentence saying what and why. kpi.workflows.entry applies the machine to the shared
state store; every move is audited there.

A school with no entry yet is `chua_nhap` while its period is open for entry (the newest period),
else `da_khoa`: an older or locked period is reached only through the office's "mở lại". A draft
left in a period that closed or was locked counts as locked too, and an approved entry of a
locked period is locked.
"""

from __future__ import annotations

from kpi.common.access import ROLES

STATES = {
    "chua_nhap": "chưa nhập",
    "nhap": "đang nhập (nháp)",
    "da_nop": "đã nộp, chờ Phòng duyệt",
    "tra_lai": "Phòng đã trả lại",
    "da_duyet": "đã được duyệt",
    "da_khoa": "đã khóa",
}
ACTIONS = {
    "luu": "lưu nháp",
    "nop": "nộp",
    "tra_lai": "trả lại",
    "duyet": "duyệt",
    "khoa": "khóa kỳ",
    "mo_lai": "mở lại",
}
SCHOOL = frozenset({"hieu_truong", "truong_nhap_lieu"})
OFFICE = frozenset({"chuyen_vien"})

# (state, action) → (next state, roles that may do it). Nothing else moves.
TRANSITIONS: dict[tuple[str, str], tuple[str, frozenset]] = {
    ("chua_nhap", "luu"): ("nhap", SCHOOL),
    ("nhap", "luu"): ("nhap", SCHOOL),
    ("tra_lai", "luu"): ("tra_lai", SCHOOL),   # still returned (the reason stays on screen) until submitted
    ("chua_nhap", "nop"): ("da_nop", SCHOOL),
    ("nhap", "nop"): ("da_nop", SCHOOL),
    ("tra_lai", "nop"): ("da_nop", SCHOOL),
    ("da_nop", "tra_lai"): ("tra_lai", OFFICE),
    ("da_nop", "duyet"): ("da_duyet", OFFICE),
    ("da_duyet", "khoa"): ("da_khoa", OFFICE),
    ("da_duyet", "mo_lai"): ("tra_lai", OFFICE),
    ("da_khoa", "mo_lai"): ("tra_lai", OFFICE),
}
NEEDS_REASON = frozenset({"tra_lai", "mo_lai"})  # the school sees the reason

# Why an action cannot be taken in a state (when no role may take it there).
_WHY = {
    "chua_nhap": "chưa có số liệu nào được nộp",
    "nhap": "số liệu mới là bản nháp, trường chưa nộp",
    "da_nop": "số liệu đã nộp, đang chờ Phòng duyệt",
    "tra_lai": "Phòng đã trả lại, đang chờ trường sửa và nộp lại",
    "da_duyet": "số liệu đã được duyệt; cần Phòng mở lại để sửa",
    "da_khoa": "kỳ báo cáo đã khóa (hoặc không còn mở để nhập); cần Phòng mở lại để sửa",
}


class Refused(Exception):
    """An action the workflow does not allow; the message says why, in Vietnamese."""


class StateMachine:
    """One workflow as a table: (state, action) → (the next state, the roles that may take it), with
    a Vietnamese sentence per state saying why nothing else may happen there. The period entries
    (below) and the yearly maturity assessment (kpi.workflows.assessment) are two instances; a refusal raises
    `error` with a message a person understands."""

    def __init__(self, states: dict, actions: dict, transitions: dict, why: dict, error: type[Exception]):
        self.states, self.actions, self.transitions, self.why, self.error = states, actions, transitions, why, error

    def allowed(self, state: str, action: str, role: str) -> bool:
        """Whether `role` may take `action` in `state`."""
        move = self.transitions.get((state, action))
        return move is not None and role in move[1]

    def next_state(self, state: str, action: str, role: str) -> str:
        """The state after `action` by `role`; raise `error` (Vietnamese message) when not allowed."""
        if state not in self.states:
            raise self.error(f"Trạng thái '{state}' không có trong quy trình.")
        if action not in self.actions:
            raise self.error(f"Thao tác '{action}' không có trong quy trình.")
        move = self.transitions.get((state, action))
        label = self.actions[action]
        if move is None:
            raise self.error(f"Không thể {label}: {self.why[state]}.")
        if role not in move[1]:
            who = ", ".join(ROLES[r] for r in sorted(move[1]))
            raise self.error(f"Tài khoản {ROLES.get(role, role)} không được {label}; việc này do {who} làm.")
        return move[0]

    def actions_for(self, state: str, role: str) -> list[str]:
        """The actions `role` may take in `state`, in the order of `actions`."""
        return [a for a in self.actions if self.allowed(state, a, role)]


MACHINE = StateMachine(STATES, ACTIONS, TRANSITIONS, _WHY, Refused)
allowed, next_state, actions_for = MACHINE.allowed, MACHINE.next_state, MACHINE.actions_for


def effective_state(stored: str | None, period_open: bool, period_locked: bool) -> str:
    """The state an entry is in: the stored one, read against its period (see the module doc)."""
    if stored in (None, "chua_nhap", "nhap") and (period_locked or not period_open):
        return "da_khoa"
    if stored == "da_duyet" and period_locked:
        return "da_khoa"
    return stored or "chua_nhap"
