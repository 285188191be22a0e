"""``scripts``: the Lua scripts of ``-script``, their returned field/value pairs as
redis_script_values and their outcome as redis_script_result (1 ok, 0 error, 2 empty).

A script that fails fails the whole scrape (``redis_up 0``), as upstream's does.
"""

from __future__ import annotations

import logging

from exporters.core.collector import CollectorSpec, FamilyDoc
from exporters.core.metrics import Metric
from exporters.redis.context import ScrapeCollector, ScrapeContext, ScrapeError
from exporters.redis.families import Families
from exporters.redis.info import parse_number
from exporters.redis.resp import ReplyError, as_text


class ScriptsCollector(ScrapeCollector):
    def applies(self) -> bool:
        return bool(self.ctx.options.lua_scripts)

    def collect(self) -> list[Metric]:
        ctx = self.ctx
        fam = ctx.families()
        ctx.conn.command("SELECT", ctx.address.db)  # the key checks may have selected another
        for filename, script in ctx.options.lua_scripts:
            try:
                self._run(fam, filename, script)
            except ScrapeError as err:
                fam.gauge("script_result", 0.0, {"filename": filename})
                ctx.fail(str(err), fam.metrics())
                raise
        return fam.metrics()

    def _run(self, fam: Families, filename: str, script: bytes) -> None:
        ctx = self.ctx
        try:
            reply = ctx.conn.command("EVAL", script, 0, 0)
        except ReplyError as err:
            ctx.log(logging.ERROR, "Lua script error", script=filename, err=err.message)
            raise ScrapeError(err.message) from None
        if not isinstance(reply, list) or len(reply) % 2:
            raise ScrapeError("redigo: StringMap expects even number of values result")
        if not reply:
            fam.gauge("script_result", 2.0, {"filename": filename})
            return
        pairs: dict[str, str] = {}
        for i in range(0, len(reply), 2):
            pairs[as_text(reply[i])] = as_text(reply[i + 1])
        for key, raw in pairs.items():
            number = parse_number(raw)
            if number is None:
                ctx.log(logging.ERROR, "error parsing Lua script results", script=filename, key=key)
                raise ScrapeError(f'strconv.ParseFloat: parsing "{raw}": invalid syntax')
            fam.gauge("script_values", number, {"key": key, "filename": filename})
        fam.gauge("script_result", 1.0, {"filename": filename})


SPEC: CollectorSpec[ScrapeContext] = CollectorSpec(
    name="scripts", factory=ScriptsCollector, help="-script: the Lua scripts' field/value pairs",
    source="EVAL of each -script file",
    families=(
        FamilyDoc("script_result", "gauge", ("filename",), source="whether the script ran (1), failed (0) or returned "
                  "an odd reply (2)"),
        FamilyDoc("script_values", "gauge", ("filename", "key")),
    ),
)
