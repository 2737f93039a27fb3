-- Schema of the dashboard's DuckDB file. One statement per table; run by kpi.store.db.init_schema.
-- Codes (field_code, criterion_code) are the catalog's codes (kpi/definitions/); the catalog is
-- not copied into the database. Targets are the one exception: a school year's targets published
-- in the app (Quản trị: target_plans, plan_targets) replace targets.toml's for that year.

-- meta: key/value facts about this database file.
--   schema_version  version of this schema
--   is_sample       'true' while the file holds generated sample data ("Dữ liệu mẫu")
--   unit_name       the office this file serves (shown on every page and export)
--   data_version    bumped by every write (imports, snapshots); readers cache by it
--   index_rules     fingerprint of the scoring rules the index_* tables were computed with
--   index_version   the data_version the index_* tables reflect (kpi.store.derived)
--   sample_seed / sample_schools / sample_years  how the sample was generated
CREATE TABLE IF NOT EXISTS meta (
    key   VARCHAR PRIMARY KEY,
    value VARCHAR NOT NULL
);

-- units: the tree of offices (đơn vị). kind ∈ 'so' (Sở GDĐT), 'phong' (Phòng GDĐT),
-- 'phuong' (ward, since HCMC dropped the district tier on 1/7/2025). parent_id is NULL at the root.
CREATE TABLE IF NOT EXISTS units (
    unit_id   VARCHAR PRIMARY KEY,
    name      VARCHAR NOT NULL,
    kind      VARCHAR NOT NULL CHECK (kind IN ('so', 'phong', 'phuong')),
    parent_id VARCHAR
);

-- schools: one row per school (trường / cơ sở giáo dục). school_id is its code.
--   level      MN | TH | THCS | GDTX (cấp học)
--   ownership  cong_lap | ngoai_cong_lap
--   ward       the ward (phường) of its address
--   unit_id    the office it reports to (units.unit_id)
--   active     false for a school closed or merged; kept so its history stays readable
CREATE TABLE IF NOT EXISTS schools (
    school_id VARCHAR PRIMARY KEY,
    name      VARCHAR NOT NULL,
    level     VARCHAR NOT NULL CHECK (level IN ('MN', 'TH', 'THCS', 'GDTX')),
    ownership VARCHAR NOT NULL CHECK (ownership IN ('cong_lap', 'ngoai_cong_lap')),
    ward      VARCHAR NOT NULL,
    unit_id   VARCHAR NOT NULL,
    active    BOOLEAN NOT NULL DEFAULT TRUE
);

-- school_dates: when a school opened and closed (Quản trị, kpi.admin.registry); no row = open since
-- before the first period. closed_on is the first day it no longer runs (a closed school keeps its
-- history; it is not expected to report for periods whose deadline falls on or after closed_on).
-- merged_into: the school that took it over (sáp nhập), whose history continues under its own code.
CREATE TABLE IF NOT EXISTS school_dates (
    school_id   VARCHAR PRIMARY KEY,
    opened_on   DATE,
    closed_on   DATE,
    merged_into VARCHAR
);

-- school_units: the units a school left (Quản trị, kpi.admin.registry): it belonged to unit_id until
-- until_day (the first day in its next unit). No row = always in its current unit (schools.unit_id).
CREATE TABLE IF NOT EXISTS school_units (
    school_id  VARCHAR NOT NULL,
    unit_id    VARCHAR NOT NULL,
    until_day  DATE NOT NULL
);

-- reference_changes: the history of every change to the reference data made in Quản trị (schools,
-- units, published targets): who, when, effective from which day, what (JSON: before and after).
CREATE TABLE IF NOT EXISTS reference_changes (
    change_id    BIGINT PRIMARY KEY,
    changed_at   TIMESTAMP NOT NULL,
    user_name    VARCHAR NOT NULL,
    effective_on DATE,
    kind         VARCHAR NOT NULL,
    object_id    VARCHAR NOT NULL,
    detail       VARCHAR NOT NULL
);

-- target_plans: one row per published version of a school year's targets (chỉ tiêu kế hoạch),
-- made in Quản trị (kpi.admin.plans). A published version is never changed: a correction is a new
-- version. The newest version of a year is in force; a year without one uses targets.toml (the
-- shipped default a new database starts from). document: the plan's number (số văn bản).
CREATE TABLE IF NOT EXISTS target_plans (
    school_year  VARCHAR NOT NULL,
    version      INTEGER NOT NULL,
    document     VARCHAR NOT NULL,
    source_year  VARCHAR NOT NULL,
    published_by VARCHAR NOT NULL,
    published_at TIMESTAMP NOT NULL,
    PRIMARY KEY (school_year, version)
);

-- plan_targets: the targets of one published version: one row per indicator × cấp học, with the
-- value (share 0-1, "đạt" from), near ("gần đạt" from), the plan's clause and basis (targets.toml).
CREATE TABLE IF NOT EXISTS plan_targets (
    school_year    VARCHAR NOT NULL,
    version        INTEGER NOT NULL,
    indicator_code VARCHAR NOT NULL,
    level          VARCHAR NOT NULL,
    value          DOUBLE NOT NULL,
    near           DOUBLE NOT NULL,
    clause         VARCHAR NOT NULL,
    basis          VARCHAR NOT NULL
);

-- periods: reporting periods (kỳ báo cáo) = school_year × round, with the deadline of the plan
-- (section III): HK1 = sơ kết học kỳ I (10/01), CN = tổng kết cả năm (20/05).
CREATE TABLE IF NOT EXISTS periods (
    school_year VARCHAR NOT NULL,
    round       VARCHAR NOT NULL CHECK (round IN ('HK1', 'CN')),
    deadline    DATE NOT NULL,
    PRIMARY KEY (school_year, round)
);

-- imports: the audit of every write of school data (who, when, which file, what changed).
--   status   'applied' | 'reverted'; source 'import' (a file), 'sample' (the generated sample),
--            'revert', 'nhap_lieu' (a batch of schools' entries approved by the Phòng: kpi.workflows.entry)
--   sha256   of the imported file's bytes; rows = data rows read; values_changed = observations
--            and scores inserted or changed by it
CREATE TABLE IF NOT EXISTS imports (
    import_id      BIGINT PRIMARY KEY,
    user_name      VARCHAR NOT NULL,
    started_at     TIMESTAMP NOT NULL,
    finished_at    TIMESTAMP,
    file_name      VARCHAR NOT NULL,
    sha256         VARCHAR NOT NULL,
    source         VARCHAR NOT NULL,
    rows           INTEGER NOT NULL,
    values_changed INTEGER NOT NULL,
    status         VARCHAR NOT NULL
);

-- observations: one row per school × period × field: the value a school reported (yes/no as
-- 1/0). A school that did not report a field has no row (missing, never zero). import_id names
-- the import that wrote the current value. Kept in order by period, then school, then field (version 4):
-- a period's queries and a school's (a principal's pages) both skip the row groups they do not need.
-- Rule: one value per school × period × field (see duplicate_keys below).
CREATE TABLE IF NOT EXISTS observations (
    school_id   VARCHAR NOT NULL,
    school_year VARCHAR NOT NULL,
    round       VARCHAR NOT NULL,
    field_code  VARCHAR NOT NULL,
    value       DOUBLE NOT NULL,
    import_id   BIGINT NOT NULL
);

-- observation_history: the value an import replaced or removed, so that any import can be
-- inspected and reverted. old_value NULL = the import added a value that was not there.
CREATE TABLE IF NOT EXISTS observation_history (
    import_id   BIGINT NOT NULL,
    school_id   VARCHAR NOT NULL,
    school_year VARCHAR NOT NULL,
    round       VARCHAR NOT NULL,
    field_code  VARCHAR NOT NULL,
    old_value   DOUBLE,
    old_import  BIGINT,
    new_value   DOUBLE
);

-- criterion_scores: maturity-index entries, one row per school × school year × criterion.
--   self_points / self_met      the school's self-assessment (points; met for mandatory conditions)
--   verified_points / verified_met  the Phòng's review; when present it wins over self-assessment
--   evidence_url                the school's evidence (minh chứng)
-- Rule: one row per school × school year × criterion, holding both sources (the school's
-- self-assessment and the Phòng's review) in their own columns (see duplicate_keys below).
CREATE TABLE IF NOT EXISTS criterion_scores (
    school_id       VARCHAR NOT NULL,
    school_year     VARCHAR NOT NULL,
    criterion_code  VARCHAR NOT NULL,
    self_points     DOUBLE,
    self_met        BOOLEAN,
    verified_points DOUBLE,
    verified_met    BOOLEAN,
    evidence_url    VARCHAR,
    import_id       BIGINT NOT NULL
);

-- submissions: a school's data for a period arrived (nộp báo cáo): when, and from which file
-- (source 'nhap_lieu': entered by the school in the app; received_at is then the moment the
-- school submitted, not the approval). One row per school × period (the first arrival: a later
-- correction does not make a school late); drives completeness and timeliness against
-- periods.deadline. No row = not submitted (or submitted in the app and not yet approved: see
-- kpi/sql/submission_status.sql, which reads those times from the state store).
-- Rule: one row per school × period (see duplicate_keys below).
CREATE TABLE IF NOT EXISTS submissions (
    school_id   VARCHAR NOT NULL,
    school_year VARCHAR NOT NULL,
    round       VARCHAR NOT NULL,
    received_at TIMESTAMP NOT NULL,
    source      VARCHAR NOT NULL,
    import_id   BIGINT NOT NULL
);

-- snapshots: frozen copies of a reporting round (chốt số liệu). The frozen rows live in
-- snapshot_observations / snapshot_scores / snapshot_submissions; content_hash is the SHA-256
-- of their canonical CSV form, so a snapshot can be checked months later.
CREATE TABLE IF NOT EXISTS snapshots (
    snapshot_id  VARCHAR PRIMARY KEY,
    name         VARCHAR NOT NULL,
    school_year  VARCHAR NOT NULL,
    round        VARCHAR NOT NULL,
    created_by   VARCHAR NOT NULL,
    created_at   TIMESTAMP NOT NULL,
    content_hash VARCHAR NOT NULL
);

-- snapshot_observations / snapshot_scores / snapshot_submissions: the frozen rows of a snapshot,
-- the same columns as their live tables plus snapshot_id. Never updated after the freeze.
CREATE TABLE IF NOT EXISTS snapshot_observations (
    snapshot_id VARCHAR NOT NULL,
    school_id   VARCHAR NOT NULL,
    school_year VARCHAR NOT NULL,
    round       VARCHAR NOT NULL,
    field_code  VARCHAR NOT NULL,
    value       DOUBLE NOT NULL
);

CREATE TABLE IF NOT EXISTS snapshot_scores (
    snapshot_id     VARCHAR NOT NULL,
    school_id       VARCHAR NOT NULL,
    school_year     VARCHAR NOT NULL,
    criterion_code  VARCHAR NOT NULL,
    self_points     DOUBLE,
    self_met        BOOLEAN,
    verified_points DOUBLE,
    verified_met    BOOLEAN
);

CREATE TABLE IF NOT EXISTS snapshot_submissions (
    snapshot_id VARCHAR NOT NULL,
    school_id   VARCHAR NOT NULL,
    school_year VARCHAR NOT NULL,
    round       VARCHAR NOT NULL,
    received_at TIMESTAMP NOT NULL,
    source      VARCHAR NOT NULL
);

-- duplicate_keys(ids): every breach of the uniqueness rules above (one value per school × period ×
-- field; one criterion entry per school × school year × criterion, self-assessed and verified
-- points side by side; one submission per school × period) among the schools in the list `ids`
-- (NULL = every school). It must be empty: the importer checks the keys it writes inside its
-- transaction and rolls back on a breach (kpi.imports.importer). The rules are not PRIMARY
-- KEYs because DuckDB enforces those with an ART index: on the national file (16,8 million
-- observations) it makes the file 2,2 GB instead of 232 MB, and an import's copy-and-write need
-- 1,3 GB of memory instead of 90 MB.
CREATE OR REPLACE MACRO duplicate_keys(ids) AS TABLE
    SELECT 'observations' AS table_name, school_id, school_year, round, field_code AS code, count(*) AS n
    FROM observations WHERE ids IS NULL OR school_id IN (SELECT unnest(ids))
    GROUP BY ALL HAVING count(*) > 1
    UNION ALL
    SELECT 'criterion_scores', school_id, school_year, NULL, criterion_code, count(*)
    FROM criterion_scores WHERE ids IS NULL OR school_id IN (SELECT unnest(ids))
    GROUP BY ALL HAVING count(*) > 1
    UNION ALL
    SELECT 'submissions', school_id, school_year, round, NULL, count(*)
    FROM submissions WHERE ids IS NULL OR school_id IN (SELECT unnest(ids))
    GROUP BY ALL HAVING count(*) > 1;

-- scope_schools(unit): the active schools of a unit and every unit below it (NULL = all units).
-- Every query reaches schools through it, so a unit's users never see another unit's schools.
-- With a period (yr, rd), the schools that existed on that period's deadline instead (opened on or
-- before it, not closed by it: school_dates), closed and merged ones included, each in the unit it
-- belonged to on that day (school_units): completeness ("x/y trường") and district figures of a
-- period count the schools of that period. yr = '*': every school the unit ever had (a query that
-- checks each period itself, school_dates).
CREATE OR REPLACE MACRO scope_schools(u, yr := NULL, rd := NULL) AS TABLE
    WITH RECURSIVE tree(unit_id) AS (
        SELECT unit_id FROM units WHERE unit_id = u
        UNION ALL
        SELECT c.unit_id FROM units c JOIN tree p ON c.parent_id = p.unit_id
    ),
    on_day AS (         -- the period's deadline (the plan's default dates when the period is not set up)
        SELECT coalesce(
            (SELECT deadline FROM periods WHERE school_year = yr AND round = rd),
            make_date(TRY_CAST(right(yr, 4) AS INTEGER), CASE WHEN rd = 'HK1' THEN 1 ELSE 5 END,
                      CASE WHEN rd = 'HK1' THEN 10 ELSE 20 END)) AS day
    ),
    was_in AS (         -- a school that changed unit after that day: the unit it was in on the day
        SELECT h.school_id, arg_min(h.unit_id, h.until_day) AS unit_id
        FROM school_units h WHERE h.until_day > (SELECT day FROM on_day)
        GROUP BY h.school_id
    )
    SELECT s.* FROM schools s
    LEFT JOIN school_dates d ON d.school_id = s.school_id
    LEFT JOIN was_in w ON w.school_id = s.school_id
    WHERE (u IS NULL OR coalesce(w.unit_id, s.unit_id) IN (SELECT unit_id FROM tree)
           OR (yr = '*' AND s.school_id IN (SELECT school_id FROM school_units
                                            WHERE unit_id IN (SELECT unit_id FROM tree))))
      AND CASE WHEN yr IS NULL THEN s.active
               WHEN yr = '*' THEN true
               ELSE (s.active OR d.closed_on IS NOT NULL)
                    AND (d.opened_on IS NULL OR d.opened_on <= (SELECT day FROM on_day))
                    AND (d.closed_on IS NULL OR d.closed_on > (SELECT day FROM on_day)) END;

-- filtered_schools(unit, level, ownership, ward): scope_schools(unit) narrowed by the page filters
-- (NULL = no filter on that column); with a period (yr, rd), the schools of that period.
CREATE OR REPLACE MACRO filtered_schools(u, lv, ow, wd, yr := NULL, rd := NULL) AS TABLE
    SELECT * FROM scope_schools(u, yr := yr, rd := rd)
    WHERE (lv IS NULL OR level = lv) AND (ow IS NULL OR ownership = ow) AND (wd IS NULL OR ward = wd);

-- users: who may log in. password_hash is a bcrypt hash (never the password). role ∈ lanh_dao
-- (office leadership), chuyen_vien (office staff), hieu_truong (a principal: school_id is set),
-- truong_nhap_lieu (a school's data-entry account, delegated by its principal: school_id is set).
-- unit_id limits the schools a user sees (NULL = every unit in this file).
CREATE TABLE IF NOT EXISTS users (
    user_name     VARCHAR PRIMARY KEY,
    display_name  VARCHAR NOT NULL,
    role          VARCHAR NOT NULL CHECK (role IN ('lanh_dao', 'chuyen_vien', 'hieu_truong', 'truong_nhap_lieu')),
    school_id     VARCHAR,
    unit_id       VARCHAR,
    password_hash VARCHAR NOT NULL,
    active        BOOLEAN NOT NULL DEFAULT TRUE,
    created_at    TIMESTAMP NOT NULL,
    updated_at    TIMESTAMP NOT NULL,
    CHECK (role NOT IN ('hieu_truong', 'truong_nhap_lieu') OR school_id IS NOT NULL)
);

-- criterion_history: the criterion entry an import replaced (NULLs = there was none), for
-- inspecting and reverting imports of self-assessments and reviews.
CREATE TABLE IF NOT EXISTS criterion_history (
    import_id       BIGINT NOT NULL,
    school_id       VARCHAR NOT NULL,
    school_year     VARCHAR NOT NULL,
    criterion_code  VARCHAR NOT NULL,
    old_self_points DOUBLE,
    old_self_met    BOOLEAN,
    old_verified_points DOUBLE,
    old_verified_met    BOOLEAN,
    old_evidence_url    VARCHAR,
    old_import      BIGINT,
    existed         BOOLEAN NOT NULL
);

-- Derived tables (kpi.store.derived): the maturity index scored by kpi/sql/maturity_base.sql for every
-- school and year, kept up to date by every writer that changes what it reads (imports, reverts,
-- the sample), so that district pages aggregate thousands of rows instead of scoring millions.
-- Trusted only while meta index_rules / index_version match the catalog and data_version;
-- otherwise readers score live. `python -m kpi rescore` rewrites them.
-- index_points: one row per school × school year × leaf criterion.
CREATE TABLE IF NOT EXISTS index_points (
    school_id       VARCHAR NOT NULL,
    school_year     VARCHAR NOT NULL,
    criterion_code  VARCHAR NOT NULL,
    group_code      VARCHAR NOT NULL,
    position        INTEGER NOT NULL,
    max_points      DOUBLE NOT NULL,
    placeholder     BOOLEAN NOT NULL,
    self_points     DOUBLE,
    verified_points DOUBLE,
    computed        DOUBLE,
    points          DOUBLE NOT NULL,
    capped          BOOLEAN NOT NULL,
    source          VARCHAR,
    provisional     BOOLEAN NOT NULL
);

-- index_groups: one row per school × school year × criteria group (DH, QT).
CREATE TABLE IF NOT EXISTS index_groups (
    school_id   VARCHAR NOT NULL,
    school_year VARCHAR NOT NULL,
    group_code  VARCHAR NOT NULL,
    position    INTEGER NOT NULL,
    points      DOUBLE NOT NULL,
    unmet       VARCHAR NOT NULL,
    raw_level   INTEGER NOT NULL,
    level       INTEGER NOT NULL,
    provisional BOOLEAN NOT NULL
);

-- index_schools: one row per school × school year: the school's level.
CREATE TABLE IF NOT EXISTS index_schools (
    school_id    VARCHAR NOT NULL,
    school_year  VARCHAR NOT NULL,
    school_level INTEGER NOT NULL,
    provisional  BOOLEAN NOT NULL
);

-- publications: the yearly maturity assessment's published results (kpi.workflows.assessment, issue 19):
-- one row per publication of a school year; the latest of a year is the one pages use, earlier
-- years keep theirs. content_hash: SHA-256 of its publication_scores rows in a canonical order.
CREATE TABLE IF NOT EXISTS publications (
    publication_id VARCHAR PRIMARY KEY,
    school_year    VARCHAR NOT NULL,
    published_by   VARCHAR NOT NULL,
    published_at   TIMESTAMP NOT NULL,
    schools        INTEGER NOT NULL,
    import_id      BIGINT,           -- the imports row of the entries it changed (NULL: it changed none)
    content_hash   VARCHAR NOT NULL
);

-- publication_scores: the frozen final points of a publication, one row per school × criterion
-- (the criterion_scores columns it wrote). Never updated after the publication.
CREATE TABLE IF NOT EXISTS publication_scores (
    publication_id  VARCHAR NOT NULL,
    school_id       VARCHAR NOT NULL,
    school_year     VARCHAR NOT NULL,
    criterion_code  VARCHAR NOT NULL,
    self_points     DOUBLE,
    self_met        BOOLEAN,
    verified_points DOUBLE,
    verified_met    BOOLEAN
);
