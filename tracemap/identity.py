"""One identity per real thing: the graph node of an OpenLineage dataset.

Lineage names a dataset by ``namespace`` + ``name`` (https://openlineage.io/docs/spec/naming);
the bus ingestors and the other lineage sources name the same thing their own way. Correlation
gives a dataset the ``node`` below (its ``component`` stays ``dataset:<namespace>/<name>``), so
a Kafka topic read by a lineage job is the topic the records are on, and one table spelled
two ways by two integrations is one node.

======================== ============================ ===================================
namespace (OL naming)    name                         node
======================== ============================ ===================================
kafka://{host}:{port}    {topic}                      kafka:topic:{topic}
postgres://{host}:{port} {database}.{schema}.{table}  dataset:postgres://{host}:{port}/{name}
mysql://{host}:{port}    {database}.{table}           dataset:mysql://{host}:{port}/{name}
bigquery                 {project}.{dataset}.{table}  dataset:bigquery/{name}
s3://{bucket}            {object key}                 dataset:s3://{bucket}/{object key}
gs://{bucket}            {object key}                 dataset:gs://{bucket}/{object key}
snowflake://{org}-{acct} {database}.{schema}.{table}  dataset:snowflake://{org}-{acct}/{NAME}
======================== ============================ ===================================

Spellings folded onto those: the scheme in lower case, ``postgresql://`` as ``postgres://``,
``s3a://``/``s3n://`` as ``s3://``, ``gcs://`` as ``gs://``; the host in lower case; the
default port when a Postgres (5432) or MySQL (3306) namespace leaves it out; a trailing
``/``; Snowflake names in upper case (unquoted Snowflake identifiers are upper case). Any other
namespace keeps its dataset component.
"""

from __future__ import annotations

#: Scheme spellings -> the scheme of the OpenLineage naming spec.
SCHEMES = {"postgresql": "postgres", "s3a": "s3", "s3n": "s3", "gcs": "gs"}

#: Schemes whose namespaces are folded (any other keeps the dataset's component).
FOLDED = ("postgres", "mysql", "s3", "gs", "snowflake")

#: Default ports the naming spec writes out.
DEFAULT_PORTS = {"postgres": 5432, "mysql": 3306}

#: Schemes whose datasets are channels of a bus: ``(system, channel kind)``.
CHANNEL_SCHEMES = {"kafka": ("kafka", "topic")}


def dataset_node_sql(namespace: str, name: str, component: str) -> str:
    """SQL for the node of a dataset row (column expressions in, one VARCHAR out)."""
    raw = f"lower(regexp_extract({namespace}, '^([A-Za-z0-9+.-]+)://', 1))"
    scheme = "CASE " + " ".join(f"WHEN {raw} = '{k}' THEN '{v}'" for k, v in SCHEMES.items()) \
        + f" ELSE {raw} END"
    host = f"lower(rtrim(regexp_extract({namespace}, '^[^:/]+://([^/]*)', 1), '/'))"
    port = ("CASE " + " ".join(f"WHEN ({scheme}) = '{k}' AND NOT contains({host}, ':') "
                               f"THEN ':{p}'" for k, p in DEFAULT_PORTS.items())
            + " ELSE '' END")
    path = f"rtrim(regexp_extract({namespace}, '^[^:/]+://[^/]*(/.*)?$', 1), '/')"
    folded = ", ".join(f"'{k}'" for k in FOLDED)
    channels = " ".join(f"WHEN {raw} = '{k}' THEN '{system}:{kind}:' || {name}"
                        for k, (system, kind) in CHANNEL_SCHEMES.items())
    return f"""CASE {channels}
        WHEN ({scheme}) NOT IN ({folded}) THEN {component}
        ELSE concat('dataset:', {scheme}, '://', {host}, {port}, {path}, '/',
                    CASE WHEN ({scheme}) = 'snowflake' THEN upper(ltrim({name}, '/'))
                         ELSE ltrim({name}, '/') END) END"""
