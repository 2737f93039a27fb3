-- one row per import (the audit), newest first
SELECT import_id, user_name, started_at, file_name, sha256, source, rows, values_changed, status
FROM imports ORDER BY import_id DESC LIMIT $limit
