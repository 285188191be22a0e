"""stat_bgwriter: upstream's collector/pg_stat_bgwriter.go.

Families: ``pg_stat_bgwriter_buffers_alloc_total``, ``pg_stat_bgwriter_buffers_backend_fsync_total``,
``pg_stat_bgwriter_buffers_backend_total``, ``pg_stat_bgwriter_buffers_checkpoint_total``,
``pg_stat_bgwriter_buffers_clean_total``, ``pg_stat_bgwriter_checkpoint_sync_time_total``,
``pg_stat_bgwriter_checkpoint_write_time_total``, ``pg_stat_bgwriter_checkpoints_req_total``,
``pg_stat_bgwriter_checkpoints_timed_total``, ``pg_stat_bgwriter_maxwritten_clean_total``,
``pg_stat_bgwriter_stats_reset_total``.
"""

from __future__ import annotations

from exporters.postgres.collectors._table import TableCollector, counter, spec, table

_BGWRITER_COLUMNS = (
    counter("checkpoints_timed", "pg_stat_bgwriter_checkpoints_timed_total",
            "Number of scheduled checkpoints that have been performed"),
    counter("checkpoints_req", "pg_stat_bgwriter_checkpoints_req_total",
            "Number of requested checkpoints that have been performed"),
    counter("checkpoint_write_time", "pg_stat_bgwriter_checkpoint_write_time_total",
            "Total amount of time that has been spent in the portion of checkpoint processing where files are "
            "written to disk, in milliseconds"),
    counter("checkpoint_sync_time", "pg_stat_bgwriter_checkpoint_sync_time_total",
            "Total amount of time that has been spent in the portion of checkpoint processing where files are "
            "synchronized to disk, in milliseconds"),
    counter("buffers_checkpoint", "pg_stat_bgwriter_buffers_checkpoint_total",
            "Number of buffers written during checkpoints"),
    counter("buffers_clean", "pg_stat_bgwriter_buffers_clean_total",
            "Number of buffers written by the background writer"),
    counter("maxwritten_clean", "pg_stat_bgwriter_maxwritten_clean_total",
            "Number of times the background writer stopped a cleaning scan because it had written too many buffers"),
    # gone in PostgreSQL 17 (moved to pg_stat_io): NULL there, and then not exported
    counter("buffers_backend", "pg_stat_bgwriter_buffers_backend_total",
            "Number of buffers written directly by a backend",
            null=None),
    counter("buffers_backend_fsync", "pg_stat_bgwriter_buffers_backend_fsync_total",
            "Number of times a backend had to execute its own fsync call (normally the background writer handles those "
            "even when the backend does its own write)", null=None),
    counter("buffers_alloc", "pg_stat_bgwriter_buffers_alloc_total", "Number of buffers allocated"),
    counter("stats_reset", "pg_stat_bgwriter_stats_reset_total", "Time at which these statistics were last reset"),
)


class StatBgwriterCollector(TableCollector):
    name = "stat_bgwriter"
    queries = (
        (">=17.0.0", """
SELECT c.num_timed AS checkpoints_timed, c.num_requested AS checkpoints_req,
       c.write_time AS checkpoint_write_time, c.sync_time AS checkpoint_sync_time,
       c.buffers_written AS buffers_checkpoint, b.buffers_clean, b.maxwritten_clean,
       NULL::bigint AS buffers_backend, NULL::bigint AS buffers_backend_fsync, b.buffers_alloc,
       b.stats_reset
FROM pg_stat_bgwriter b CROSS JOIN pg_stat_checkpointer c
"""),
        ("<17.0.0", """
SELECT checkpoints_timed, checkpoints_req, checkpoint_write_time, checkpoint_sync_time, buffers_checkpoint,
       buffers_clean, maxwritten_clean, buffers_backend, buffers_backend_fsync, buffers_alloc, stats_reset
FROM pg_stat_bgwriter
"""),
    )
    metrics = table(
        columns=_BGWRITER_COLUMNS,
    )


SPEC = spec(StatBgwriterCollector, enabled_by_default=True)
