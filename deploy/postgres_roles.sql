-- PostgreSQL deployment: two roles and the reporting database.
-- Run once, as a superuser, with psql:
--   psql -v ON_ERROR_STOP=1 -f deploy/postgres_roles.sql
-- then set their passwords (never in this file, never in the repository):
--   \password qa_loader
--   \password qa_reporting
-- and, as qa_loader, after every schema upgrade:
--   qa-pipeline db upgrade --db postgresql+psycopg://qa_loader@HOST/qa_reporting
--   qa-pipeline db grant-reporting --role qa_reporting --db postgresql+psycopg://qa_loader@HOST/qa_reporting

-- The loader: owns the schema, runs the nightly job and the migrations.
CREATE ROLE qa_loader LOGIN;
-- BI tools and data officers' spreadsheets: read-only, on the published views only.
CREATE ROLE qa_reporting LOGIN;

CREATE DATABASE qa_reporting OWNER qa_loader;
REVOKE ALL ON DATABASE qa_reporting FROM PUBLIC;
GRANT CONNECT ON DATABASE qa_reporting TO qa_loader, qa_reporting;
