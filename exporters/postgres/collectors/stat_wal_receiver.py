"""stat_wal_receiver: upstream's collector/pg_stat_walreceiver.go.

Families: ``pg_stat_wal_receiver_flushed_lsn``, ``pg_stat_wal_receiver_last_msg_receipt_time``,
``pg_stat_wal_receiver_last_msg_send_time``, ``pg_stat_wal_receiver_latest_end_lsn``,
``pg_stat_wal_receiver_latest_end_time``, ``pg_stat_wal_receiver_receive_start_lsn``,
``pg_stat_wal_receiver_receive_start_tli``, ``pg_stat_wal_receiver_received_tli``,
``pg_stat_wal_receiver_upstream_node``.
"""

from __future__ import annotations

from exporters.postgres.collectors._table import TableCollector, counter, gauge, spec, table

_WAL_RECEIVER = """
SELECT trim(both '''' from substring(conninfo from 'host=([^ ]*)')) AS upstream_host,
       slot_name, status,
       (receive_start_lsn - '0/0') % (2^52)::bigint AS receive_start_lsn,
       {flushed}
       receive_start_tli, received_tli,
       extract(epoch from last_msg_send_time) AS last_msg_send_time,
       extract(epoch from last_msg_receipt_time) AS last_msg_receipt_time,
       (latest_end_lsn - '0/0') % (2^52)::bigint AS latest_end_lsn,
       extract(epoch from latest_end_time) AS latest_end_time,
       substring(slot_name from 'repmgr_slot_([0-9]*)') AS upstream_node
FROM pg_catalog.pg_stat_wal_receiver
"""

_WR_HELP_SEND = "Send time of last message received from origin WAL sender"


class StatWalReceiverCollector(TableCollector):
    name = "stat_wal_receiver"
    queries = (
        # flushed_lsn appeared in PostgreSQL 13 (received_lsn before)
        (">=13.0.0", _WAL_RECEIVER.format(flushed="(flushed_lsn - '0/0') % (2^52)::bigint AS flushed_lsn,")),
        ("<13.0.0", _WAL_RECEIVER.format(flushed="NULL::bigint AS flushed_lsn,")),
    )
    metrics = table(
        labels=("upstream_host", "slot_name", "status"),
        columns=(
            counter("receive_start_lsn", "pg_stat_wal_receiver_receive_start_lsn",
                    "First write-ahead log location used when WAL receiver is started represented as a decimal", None),
            gauge("receive_start_tli", "pg_stat_wal_receiver_receive_start_tli",
                  "First timeline number used when WAL receiver is started", None),
            counter("flushed_lsn", "pg_stat_wal_receiver_flushed_lsn",
                    "Last write-ahead log location already received and flushed to disk, the initial value of this "
                    "field being the first log location used when WAL receiver is started represented as a decimal",
                    None),
            gauge("received_tli", "pg_stat_wal_receiver_received_tli",
                  "Timeline number of last write-ahead log location received and flushed to disk", None),
            counter("last_msg_send_time", "pg_stat_wal_receiver_last_msg_send_time", _WR_HELP_SEND, None),
            counter("last_msg_receipt_time", "pg_stat_wal_receiver_last_msg_receipt_time", _WR_HELP_SEND, None),
            counter("latest_end_lsn", "pg_stat_wal_receiver_latest_end_lsn",
                    "Last write-ahead log location reported to origin WAL sender as integer", None),
            counter("latest_end_time", "pg_stat_wal_receiver_latest_end_time",
                    "Time of last write-ahead log location reported to origin WAL sender", None),
            gauge("upstream_node", "pg_stat_wal_receiver_upstream_node", "Node ID of the upstream node", None),
        ),
    )


SPEC = spec(StatWalReceiverCollector, enabled_by_default=False)
