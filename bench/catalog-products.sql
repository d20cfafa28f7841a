-- The benchmarks' catalog: 1,000 products in stock, a day old (so the demo products list first
-- under the default `newest` sort). Loaded by bench/run, bench/catalog-instructions and
-- bench/catalog-rounds after `shop-api seed --demo`, so that all three serve the same page.
INSERT INTO products (id, sku, name, name_key, slug, description, price_minor, currency, stock, active, created_at, updated_at)
SELECT md5('bench-product-' || k)::uuid, 'BENCH-' || k, 'Bench product ' || k, 'bench product ' || k,
       'bench-product-' || k, 'A product for the benchmark', 1500, 'USD', 1000000000, true,
       now() - interval '1 day', now() - interval '1 day'
FROM generate_series(1, 1000) k;
