UPDATE categories
SET name = $2, slug = $3, parent_id = $4, description = $5, updated_at = $6
WHERE id = $1
