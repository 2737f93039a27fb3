-- target_drafts: one row per school year whose targets the office is preparing (kpi.admin.plans).

-- name: get
-- at most one row: a school year's draft (rows: JSON).
-- Parameters: :school_year
SELECT school_year, source_year, base_version, document, rows, version, created_by, created_at, updated_by,
       updated_at
FROM target_drafts WHERE school_year = :school_year;

-- name: years
-- one row per school year with a draft, newest first.
SELECT school_year FROM target_drafts ORDER BY school_year DESC;

-- name: add
-- one new draft at version 1.
-- Parameters: :school_year, :source_year, :base_version, :document, :rows (JSON), :user_name, :now
INSERT INTO target_drafts VALUES (:school_year, :source_year, :base_version, :document, :rows, 1, :user_name, :now,
                                  :user_name, :now);

-- name: remove
-- a school year's draft dropped (rowcount: 1 when there was one).
-- Parameters: :school_year
DELETE FROM target_drafts WHERE school_year = :school_year;

-- name: set_rows
-- the draft's rows changed: version +1, who, when.
-- Parameters: :school_year, :rows (JSON), :user_name, :now
UPDATE target_drafts SET rows = :rows, version = version + 1, updated_by = :user_name, updated_at = :now
WHERE school_year = :school_year;

-- name: set_document
-- the draft's document number changed: version +1, who, when.
-- Parameters: :school_year, :document, :user_name, :now
UPDATE target_drafts SET document = :document, version = version + 1, updated_by = :user_name, updated_at = :now
WHERE school_year = :school_year;

-- name: published
-- the draft dropped once published, when still at the version published (rowcount 0 otherwise).
-- Parameters: :school_year, :version
DELETE FROM target_drafts WHERE school_year = :school_year AND version = :version;

-- name: rebase
-- a draft edited while it was published stays, on top of the version just published.
-- Parameters: :school_year, :base_version
UPDATE target_drafts SET base_version = :base_version WHERE school_year = :school_year;
