SELECT id, name, slug, parent_id, description, created_at, updated_at
FROM categories
