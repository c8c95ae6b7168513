-- The role pgpulse connects as: read-only, a member of pg_monitor, allowed
-- to connect to every database, and nothing more. PostgreSQL 13 to 18.
--
-- Run it as a superuser (or, on a managed service, the admin role that may
-- grant pg_monitor), in the database pgpulse connects to:
--
--   psql -d postgres -v role=pgpulse -v password="$PW" -f monitoring-role.sql
--
-- Variables (psql -v): role (default pgpulse); password (optional: without
-- it an existing password stays, and a new role has none until you set one,
-- e.g. with \password, or uses certificate or peer authentication).
--
-- It is idempotent: run it again after adding databases or upgrading
-- PostgreSQL; every statement either creates what is missing or grants what
-- is already granted. It never revokes anything.
--
-- pgbouncer targets need no SQL: add the role to pgbouncer's stats_users.

\set ON_ERROR_STOP on
\if :{?role}
\else
\set role pgpulse
\endif

-- The role itself. Explicit NO* attributes for a new role; an existing role
-- keeps its attributes (pgpulse warns, and sets pgpulse_role_superuser 1,
-- when it runs as a superuser).
SELECT format('CREATE ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE '
              'NOREPLICATION NOBYPASSRLS INHERIT', :'role')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'role') \gexec
SELECT format('ALTER ROLE %I LOGIN', :'role') \gexec
\if :{?password}
SELECT format('ALTER ROLE %I PASSWORD %L', :'role', :'password') \gexec
\endif

-- pg_monitor: pg_read_all_settings (every pg_settings row),
-- pg_read_all_stats (every session's query and wait event in
-- pg_stat_activity, pg_stat_statements' texts, pg_stat_replication's
-- positions) and pg_stat_scan_tables; and EXECUTE on pg_ls_waldir(),
-- pg_ls_archive_statusdir(), pg_ls_tmpdir() and pg_ls_logdir(), which the
-- WAL and storage collectors call. It grants no right to read table data
-- or change anything.
SELECT format('GRANT pg_monitor TO %I', :'role') \gexec

-- CONNECT on every database that accepts connections: the per-database
-- collectors (tables, indexes, sizes) open a session in each. PUBLIC has
-- CONNECT by default; this matters where it was revoked. A database created
-- later needs the grant too (run this file again).
SELECT format('GRANT CONNECT ON DATABASE %I TO %I', datname, :'role')
FROM pg_database WHERE datallowconn ORDER BY datname \gexec

-- Sessions of the role are read-only by default, whatever runs as it: a
-- safety net (pgpulse itself only reads, in read-only transactions).
SELECT format('ALTER ROLE %I SET default_transaction_read_only = on', :'role') \gexec

-- pg_stat_statements (statements collectors), when the server preloads it:
-- the view lives in the database pgpulse connects to. Not a privilege, but
-- without it those collectors are skipped.
SELECT 'CREATE EXTENSION IF NOT EXISTS pg_stat_statements'
WHERE current_setting('shared_preload_libraries') ~ '\mpg_stat_statements\M' \gexec

-- What the role ends up with, for the record.
SELECT r.rolname AS role, r.rolsuper AS superuser, r.rolcanlogin AS login,
       pg_has_role(r.oid, 'pg_monitor', 'USAGE') AS pg_monitor
FROM pg_roles r WHERE r.rolname = :'role';
