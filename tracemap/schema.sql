-- tracemap store: the normalized model (see tracemap/model.py for what each column holds).
-- Every input row carries source_id so a source can be replaced or dropped as a unit.
-- No primary keys on the entity tables: bulk loads stay fast, and the same natural uid seen in
-- two sources (one trace exported by two tools) is deduplicated by correlation, not rejected.

CREATE SEQUENCE IF NOT EXISTS source_ids START 1;

CREATE TABLE IF NOT EXISTS sources (
    id           INTEGER PRIMARY KEY DEFAULT nextval('source_ids'),
    path         VARCHAR NOT NULL,
    sha256       VARCHAR NOT NULL,
    size         BIGINT NOT NULL,
    mtime_ns     BIGINT NOT NULL,
    format       VARCHAR NOT NULL,
    chosen_by    VARCHAR NOT NULL,      -- detected | forced
    records      BIGINT NOT NULL DEFAULT 0,
    loaded       BIGINT NOT NULL DEFAULT 0,
    rejected     BIGINT NOT NULL DEFAULT 0,
    skipped      BIGINT NOT NULL DEFAULT 0,
    ingested_at  TIMESTAMPTZ NOT NULL,
    detail       JSON,                  -- ingestor notes: skipped types, where ids came from
    -- loading while its batches are committed one by one; done once counts are final. A source
    -- still loading when a writer opens the store was interrupted: its rows are dropped.
    state        VARCHAR NOT NULL DEFAULT 'loading'
);

CREATE TABLE IF NOT EXISTS runs (
    source_id INTEGER NOT NULL, uid VARCHAR NOT NULL, system VARCHAR, component VARCHAR,
    name VARCHAR, status VARCHAR, started_at TIMESTAMPTZ, ended_at TIMESTAMPTZ,
    attempt INTEGER, parent_uid VARCHAR, error VARCHAR, location VARCHAR, detail JSON
);

CREATE TABLE IF NOT EXISTS steps (
    source_id INTEGER NOT NULL, uid VARCHAR NOT NULL, run_uid VARCHAR, system VARCHAR,
    component VARCHAR, name VARCHAR, step_type VARCHAR, status VARCHAR,
    started_at TIMESTAMPTZ, ended_at TIMESTAMPTZ, attempt INTEGER, parent_uid VARCHAR,
    error VARCHAR, location VARCHAR, detail JSON
);

CREATE TABLE IF NOT EXISTS messages (
    source_id INTEGER NOT NULL, uid VARCHAR NOT NULL, system VARCHAR, component VARCHAR,
    channel VARCHAR, event_type VARCHAR, msg_key VARCHAR, produced_at TIMESTAMPTZ,
    status VARCHAR, headers JSON, payload JSON, location VARCHAR, detail JSON
);

CREATE TABLE IF NOT EXISTS datasets (
    source_id INTEGER NOT NULL, uid VARCHAR NOT NULL, component VARCHAR,
    namespace VARCHAR, name VARCHAR, detail JSON
);

CREATE TABLE IF NOT EXISTS keys (
    source_id INTEGER NOT NULL, entity_uid VARCHAR NOT NULL, kind VARCHAR NOT NULL,
    value VARCHAR NOT NULL
);

CREATE TABLE IF NOT EXISTS links (
    source_id INTEGER NOT NULL, src_uid VARCHAR NOT NULL, dst_uid VARCHAR NOT NULL,
    kind VARCHAR NOT NULL, evidence VARCHAR, location VARCHAR
);

-- Structure someone declared (ASL, Argo templates, Airflow task deps, AsyncAPI, manifests),
-- component to component; compared with what was observed by `hidden`.
CREATE TABLE IF NOT EXISTS declared (
    source_id INTEGER NOT NULL, src VARCHAR NOT NULL, dst VARCHAR NOT NULL,
    kind VARCHAR NOT NULL, evidence VARCHAR
);

-- Log records (OTLP logs, tabular logs); attached to a span/step when they carry its ids.
CREATE TABLE IF NOT EXISTS logs (
    source_id INTEGER NOT NULL, uid VARCHAR NOT NULL, entity_uid VARCHAR, trace_id VARCHAR,
    span_id VARCHAR, service VARCHAR, time TIMESTAMPTZ, severity VARCHAR,
    severity_number INTEGER, body VARCHAR, location VARCHAR, detail JSON
);

CREATE TABLE IF NOT EXISTS rejects (
    source_id INTEGER NOT NULL, location VARCHAR NOT NULL, reason VARCHAR NOT NULL,
    raw VARCHAR
);

-- Store-wide counters: data_version moves on every change to input rows, so analyses know
-- whether the correlation tables are stale.
CREATE TABLE IF NOT EXISTS meta (name VARCHAR PRIMARY KEY, value VARCHAR);
INSERT INTO meta VALUES ('schema_version', '1') ON CONFLICT DO NOTHING;
INSERT INTO meta VALUES ('data_version', '0') ON CONFLICT DO NOTHING;
