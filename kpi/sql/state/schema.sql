-- Schema of the shared state store (SQLite in WAL mode beside the DuckDB file: kpi.store.state).
-- Run whole by kpi.store.state.Store on first use of a store whose user_version is older or that lacks
-- a table: every statement is CREATE ... IF NOT EXISTS, so an older store gains the new tables and two
-- processes starting at once both succeed. Sections "-- version N:" are what each version added
-- (kpi.store.state.schema(since, until) runs a part); the last line sets the version.
-- version 1: sessions, login counters, audit.
-- one row per login session (the id is inside the signed cookie); revoked_at set = refused
CREATE TABLE IF NOT EXISTS sessions (
    session_id TEXT PRIMARY KEY,
    user_name  TEXT NOT NULL,
    issued_at  REAL NOT NULL,
    last_seen  REAL NOT NULL,
    revoked_at REAL,
    reason     TEXT,
    client     TEXT
);
CREATE INDEX IF NOT EXISTS sessions_user ON sessions (user_name);
-- one row per throttled key ('u:<user name>' or 'a:<client address>')
CREATE TABLE IF NOT EXISTS login_failures (
    key      TEXT PRIMARY KEY,
    failures INTEGER NOT NULL,
    first_at REAL NOT NULL,
    last_at  REAL NOT NULL
);
-- one row per audited action (login, logout, refused login, download, a save, a submission, a
-- review decision, ...)
CREATE TABLE IF NOT EXISTS audit (
    audit_id  INTEGER PRIMARY KEY AUTOINCREMENT,
    at        REAL NOT NULL,
    user_name TEXT,
    action    TEXT NOT NULL,
    detail    TEXT,
    client    TEXT
);
CREATE INDEX IF NOT EXISTS audit_action ON audit (action);
-- version 2: the schools' figures entered in the app, the workflow of kpi.domain.workflow (kpi.workflows.entry).
-- entries: one row per school × period that entered the workflow. version: +1 at every change (a
-- save made on an older version is refused: two people never overwrite each other silently).
-- first_submitted_at: the first submission (timeliness); submitted_at: the latest. decided_*:
-- the Phòng's latest decision; reason: why it returned or reopened the entry (the school sees it).
CREATE TABLE IF NOT EXISTS entries (
    school_id          TEXT NOT NULL,
    school_year        TEXT NOT NULL,
    round              TEXT NOT NULL,
    state              TEXT NOT NULL,
    version            INTEGER NOT NULL,
    updated_at         REAL NOT NULL,
    updated_by         TEXT NOT NULL,
    submitted_at       REAL,
    submitted_by       TEXT,
    first_submitted_at REAL,
    decided_at         REAL,
    decided_by         TEXT,
    reason             TEXT,
    source             TEXT,
    PRIMARY KEY (school_id, school_year, round)
);
CREATE INDEX IF NOT EXISTS entries_period ON entries (school_year, round, state);
-- entry_values: one row per field an entry holds: raw = as typed (a draft may hold text that is
-- not a number yet), value = parsed (NULL when it does not parse), flags = the soft checks it set
-- off at its last save (rule codes of checks.toml, comma-separated), explanation = the school's.
CREATE TABLE IF NOT EXISTS entry_values (
    school_id   TEXT NOT NULL,
    school_year TEXT NOT NULL,
    round       TEXT NOT NULL,
    field_code  TEXT NOT NULL,
    raw         TEXT,
    value       REAL,
    flags       TEXT,
    explanation TEXT,
    PRIMARY KEY (school_id, school_year, round, field_code)
);
-- period_locks: one row per school × period the Phòng locked (khóa kỳ); a locked school changes
-- only after the Phòng reopens it (mở lại).
CREATE TABLE IF NOT EXISTS period_locks (
    school_id   TEXT NOT NULL,
    school_year TEXT NOT NULL,
    round       TEXT NOT NULL,
    locked_at   REAL NOT NULL,
    locked_by   TEXT NOT NULL,
    PRIMARY KEY (school_id, school_year, round)
);
-- counters: 'workflow' is bumped by every change of the tables above (readers cache by it)
CREATE TABLE IF NOT EXISTS counters (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
-- version 3: the yearly maturity assessment (self-assessment, evidence, review, publication).
-- assessments: one row per school × school year that entered the yearly maturity assessment
-- (kpi.workflows.assessment). state ∈ kpi.workflows.assessment.STATES; version +1 at every change (a save made on an
-- older version is refused); submitted_*: the latest submission; decided_*: the Phòng's latest
-- decision; reason: why it returned or reopened it (the school sees it); publication_id: the
-- publication (analytics file, table publications) that holds its final points.
CREATE TABLE IF NOT EXISTS assessments (
    school_id      TEXT NOT NULL,
    school_year    TEXT NOT NULL,
    state          TEXT NOT NULL,
    version        INTEGER NOT NULL,
    updated_at     REAL NOT NULL,
    updated_by     TEXT NOT NULL,
    submitted_at   REAL,
    submitted_by   TEXT,
    decided_at     REAL,
    decided_by     TEXT,
    reason         TEXT,
    publication_id TEXT,
    PRIMARY KEY (school_id, school_year)
);
CREATE INDEX IF NOT EXISTS assessments_year ON assessments (school_year, state);
-- assessment_items: one row per school × year × criterion: the school's points (self_met for a
-- mandatory condition) and note; the Phòng's verified points, its comment, who verified;
-- returned = 1 while the Phòng asks the school to redo this criterion.
CREATE TABLE IF NOT EXISTS assessment_items (
    school_id       TEXT NOT NULL,
    school_year     TEXT NOT NULL,
    criterion_code  TEXT NOT NULL,
    self_points     REAL,
    self_met        INTEGER,
    note            TEXT,
    verified_points REAL,
    verified_met    INTEGER,
    comment         TEXT,
    returned        INTEGER NOT NULL DEFAULT 0,
    verified_by     TEXT,
    verified_at     REAL,
    PRIMARY KEY (school_id, school_year, criterion_code)
);
-- assessment_evidence: one row per evidence file (minh chứng) of a criterion; kind checked from the
-- bytes (kpi.workflows.evidence_files.KINDS); content = the file itself (a BLOB: it goes with the store's backup,
-- is written in the transaction that audits it, and no uploaded name ever becomes a path).
CREATE TABLE IF NOT EXISTS assessment_evidence (
    evidence_id    INTEGER PRIMARY KEY AUTOINCREMENT,
    school_id      TEXT NOT NULL,
    school_year    TEXT NOT NULL,
    criterion_code TEXT NOT NULL,
    file_name      TEXT NOT NULL,
    kind           TEXT NOT NULL,
    size           INTEGER NOT NULL,
    sha256         TEXT NOT NULL,
    content        BLOB NOT NULL,
    uploaded_at    REAL NOT NULL,
    uploaded_by    TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS assessment_evidence_school ON assessment_evidence (school_id, school_year);
-- assessment_cycles: the Phòng's settings of a school year's cycle: the deadline (ISO date) and the
-- threshold (points) above which a self-assessed score far from the computed one is flagged.
CREATE TABLE IF NOT EXISTS assessment_cycles (
    school_year TEXT PRIMARY KEY,
    deadline    TEXT NOT NULL,
    threshold   REAL NOT NULL,
    set_by      TEXT,
    set_at      REAL
);
-- (the counters row 'assessment' is bumped by every change of the four tables above)

-- version 4: administration (targets per school year, schools and units, accounts).
-- target_drafts: one row per school year whose targets the office is preparing (kpi.admin.plans); rows =
-- JSON list of {indicator, level, value, near, clause, basis}; version +1 at every save (a save made
-- on an older version is refused). Publishing writes the plan into the analytics file and drops it.
CREATE TABLE IF NOT EXISTS target_drafts (
    school_year  TEXT PRIMARY KEY,
    source_year  TEXT NOT NULL,
    base_version INTEGER NOT NULL,
    document     TEXT NOT NULL,
    rows         TEXT NOT NULL,
    version      INTEGER NOT NULL,
    created_by   TEXT NOT NULL,
    created_at   REAL NOT NULL,
    updated_by   TEXT NOT NULL,
    updated_at   REAL NOT NULL
);
-- account_passwords: per account, whether the password must be changed at the next login (a first
-- or reset password) and the previous password's bcrypt hash (never reused: kpi.admin.accounts).
CREATE TABLE IF NOT EXISTS account_passwords (
    user_name     TEXT PRIMARY KEY,
    must_change   INTEGER NOT NULL,
    previous_hash TEXT,
    changed_at    REAL NOT NULL,
    changed_by    TEXT NOT NULL
);

-- version 5: writes that span this store and the analytics file (kpi.store.recovery, issue 28).
-- intents: one row per such write, recorded here BEFORE the analytics file is written: kind (what:
-- 'duyet', 'cong_bo', 'hoan_tac'), who, keys = JSON of what it changes and the outcome the store
-- side must reach; state 'cho' (pending) until the store side is done ('xong', with result = JSON of
-- what the analytics write returned, e.g. the import id) or the analytics write is known not to
-- have landed ('huy'). The analytics file holds meta key 'intent:<intent_id>' written in the same
-- DuckDB transaction as the change, which is how a repair tells the two apart.
CREATE TABLE IF NOT EXISTS intents (
    intent_id  TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,
    user_name  TEXT,
    keys       TEXT NOT NULL,
    state      TEXT NOT NULL,
    created_at REAL NOT NULL,
    done_at    REAL,
    result     TEXT
);
CREATE INDEX IF NOT EXISTS intents_state ON intents (state);

-- version 6: the analytics file's write log, for several machines (kpi.store.db, issue 27): one row per
-- write to the analytics file, in the order they were made (seq = 1, 2, ...): the write as a list of
-- statements and tables another machine runs again on its own copy (kpi.store.replay), the file's
-- data_version and the SHA-256 of its content after it (kpi.store.db.fingerprint), when, on which
-- machine. Written only when the store is PostgreSQL (KPI_STORE); on one machine it stays empty.
CREATE TABLE IF NOT EXISTS analytics_log (
    seq            INTEGER PRIMARY KEY,
    data_version   INTEGER NOT NULL,
    content_sha256 TEXT NOT NULL,
    entry          BLOB NOT NULL,
    created_at     REAL NOT NULL,
    machine        TEXT NOT NULL
);

-- the schema's version (kpi.store.state.SCHEMA_VERSION reads it from here): set after every table exists
PRAGMA user_version = 6;
