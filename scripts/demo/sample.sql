-- A small sample shop for the demo: a few schemas and the types replication has to carry.
CREATE SCHEMA shop;
CREATE SCHEMA inventory;
CREATE SCHEMA "Customer Care";

CREATE TYPE shop.order_status AS ENUM ('new', 'paid', 'shipped', 'cancelled');
CREATE DOMAIN shop.email AS text CHECK (VALUE ~ '^[^@]+@[^@]+$');

CREATE TABLE shop.customers (
  id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  email      shop.email NOT NULL UNIQUE,
  name       text NOT NULL,
  name_lower text GENERATED ALWAYS AS (lower(name)) STORED,
  prefs      jsonb NOT NULL DEFAULT '{}',
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE shop.orders (
  id          bigserial,
  customer_id bigint NOT NULL REFERENCES shop.customers (id),
  status      shop.order_status NOT NULL DEFAULT 'new',
  total       numeric(12, 2) NOT NULL CHECK (total >= 0),
  placed_at   timestamptz NOT NULL,
  PRIMARY KEY (id, placed_at)
) PARTITION BY RANGE (placed_at);
CREATE TABLE shop.orders_2025 PARTITION OF shop.orders FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE shop.orders_2026 PARTITION OF shop.orders FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
CREATE TABLE shop.orders_default PARTITION OF shop.orders DEFAULT;

CREATE TABLE inventory.products (
  sku      text PRIMARY KEY,
  title    text NOT NULL,
  tags     text[] NOT NULL DEFAULT '{}',
  picture  bytea,
  in_stock integer NOT NULL DEFAULT 0
);

-- No primary key: REPLICA IDENTITY FULL keeps UPDATE/DELETE working once the table is published.
CREATE TABLE inventory.stock_movements (
  sku    text NOT NULL,
  delta  integer NOT NULL,
  at     timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE inventory.stock_movements REPLICA IDENTITY FULL;

CREATE TABLE "Customer Care"."Support Tickets" (
  "Ticket No" integer PRIMARY KEY,
  "Customer"  bigint REFERENCES shop.customers (id),
  "Opened"    tstzrange NOT NULL,
  "Notes"     text
);

CREATE VIEW shop.paid_orders AS SELECT * FROM shop.orders WHERE status = 'paid';

INSERT INTO shop.customers (email, name, prefs)
SELECT 'customer' || i || '@example.com', 'Customer ' || i, jsonb_build_object('newsletter', i % 2 = 0, 'lang', 'en')
FROM generate_series(1, 2000) i;

INSERT INTO shop.orders (customer_id, status, total, placed_at)
SELECT 1 + i % 2000, (ARRAY['new', 'paid', 'shipped', 'cancelled']::shop.order_status[])[1 + i % 4],
       round((i % 500) * 1.25, 2), timestamptz '2025-03-01' + i * interval '47 minutes'
FROM generate_series(1, 10000) i;

INSERT INTO inventory.products (sku, title, tags, picture, in_stock)
SELECT 'SKU-' || lpad(i::text, 5, '0'), 'Product ' || i, ARRAY['tag' || i % 7], decode(md5(i::text), 'hex'), i % 40
FROM generate_series(1, 500) i;

INSERT INTO inventory.stock_movements (sku, delta)
SELECT 'SKU-' || lpad((1 + i % 500)::text, 5, '0'), (i % 9) - 4 FROM generate_series(1, 3000) i;

INSERT INTO "Customer Care"."Support Tickets"
SELECT i, 1 + i % 2000, tstzrange(timestamptz '2026-01-01' + i * interval '1 hour', NULL), CASE WHEN i % 3 = 0 THEN NULL ELSE 'ticket ' || i END
FROM generate_series(1, 300) i;

ANALYZE;
