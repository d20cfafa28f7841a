INSERT INTO categories (id, name, slug, parent_id, description, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)
